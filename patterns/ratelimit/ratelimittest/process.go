package ratelimittest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// childVariable switches a re-executed test binary into a child of
// [RunProcesses]; its value is the child's JSON-encoded assignment.
const childVariable = "GREL_RATELIMITTEST_CHILD"

// Processes configures [RunProcesses].
type Processes struct {
	// Shared is what every process needs to reach the same store: a URL, a
	// key prefix, a schema, a file path. The parent makes it (from
	// internal/testenv, say) and hands it to Backend in each child.
	Shared string
	// Backend makes one process's backend on the shared store. It runs in
	// the child processes only.
	Backend func(t *testing.T, shared string) grelratelimit.Backend
	// Config is the limiter's algorithm and numbers (its Degradation and
	// Timeout are replaced: a child never degrades silently). The zero
	// Config means a token bucket of 100 per second with a burst of 20.
	Config grelratelimit.Config
	// Count is the number of processes (default 4).
	Count int
	// Duration is how long they hammer the key (default 2s). For the
	// sliding window make it at least 1.2 x Window, so that the run crosses
	// a window boundary with a burst on each side of it (see
	// [RunProcesses]); shorter runs are checked too, but cannot tell a
	// fixed window from a sliding one.
	Duration time.Duration
	// Resolution is the store clock's resolution (default 2ms), added to
	// the elapsed time in the bound.
	Resolution time.Duration
}

// IsChild reports whether this process is a child of [RunProcesses]: a
// test can then skip setting up what only the parent needs (a fresh key
// prefix, a schema) before it calls RunProcesses.
func IsChild() bool {
	_, ok := os.LookupEnv(childVariable)
	return ok
}

type assignment struct {
	Test     string
	Index    int
	Shared   string
	Config   grelratelimit.Config
	Name     string
	Key      string
	Duration time.Duration
	// Quiet, when set, makes the child send one request at the start and
	// then nothing until Quiet after it.
	Quiet time.Duration
	Dir   string
}

type childReport struct {
	Allowed, Denied, Degraded, Errors int64
	FirstError                        string
	// First is when the first request was sent and Last when the last
	// answer came (UnixNano): every decision the store made lies between.
	First, Last int64
	// Grants holds, for every granted request, when it was sent and when
	// its answer came (UnixNano): the store decided it in between.
	Grants [][2]int64
}

// RunProcesses is the multi-process check. Called from a test, it
// re-executes the test binary Count times, running only that test, with an
// environment switch that makes each copy a child; each child builds a
// limiter on Backend(Shared) and calls Allow on one shared key as fast as
// it can for Duration. The parent then checks that the permits granted in
// total never exceed what the algorithm permits over the elapsed time d
// (from the first request sent to the last answer received, plus the
// store clock's resolution):
//
//   - token bucket: Burst + floor(d / interval);
//   - sliding window: Limit x (ceil(d/Window) + 1), and
//     floor(Limit x (1 + d/Window)) when d <= Window (the approximation's
//     documented bound);
//
// and that at least the first Burst (or Limit) were granted, so that the
// processes really contended. No decision may degrade or fail.
//
// For the sliding window the children also report when each grant was
// sent and answered, and every set of grants whose decisions lie within a
// span of d <= Window (from the first one sent to the last one answered,
// plus the resolution) must hold at most floor(Limit x (1 + d/Window)). A
// window that ignores the previous one (a fixed window) grants 2 x Limit
// around a boundary, but only when the first window was idle until its end:
// so when Duration is at least 1.2 x Window, each child sends one request
// at the start (it anchors the key's windows), is quiet until Window/10
// before the first boundary, and hammers from then on.
//
// The test that calls RunProcesses must be selectable alone by -test.run
// (as a top-level test or a named subtest); it needs no TestMain.
func RunProcesses(t *testing.T, p Processes) {
	t.Helper()
	if raw, ok := os.LookupEnv(childVariable); ok {
		var a assignment
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatalf("ratelimittest: bad child assignment: %v", err)
		}
		if a.Test == t.Name() {
			runChild(t, a, p)
			return
		}
	}
	if p.Backend == nil {
		t.Fatal("ratelimittest: Processes.Backend is nil")
	}
	count := p.Count
	if count <= 0 {
		count = 4
	}
	dur := p.Duration
	if dur <= 0 {
		dur = 2 * time.Second
	}
	res := p.Resolution
	if res <= 0 {
		res = 2 * time.Millisecond
	}
	cfg := p.Config
	if cfg.Algorithm == "" {
		cfg = grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
		cfg.Rate, cfg.Period, cfg.Burst = 100, time.Second, 20
	}
	cfg.Degradation, cfg.Timeout, cfg.ProbeInterval = grelratelimit.FailClosed, 10*time.Second, 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ratelimittest: Processes.Config: %v", err)
	}
	dir := t.TempDir()
	base := assignment{Test: t.Name(), Shared: p.Shared, Config: cfg, Name: limiterName("processes", 0), Key: "hammered",
		Duration: dur, Quiet: quietFor(cfg, dur), Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+4*dur)
	defer cancel()
	var wg sync.WaitGroup
	outputs := make([]bytes.Buffer, count)
	errs := make([]error, count)
	for i := range count {
		a := base
		a.Index = i
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childVariable+"="+string(raw))
		cmd.Stdout, cmd.Stderr = &outputs[i], &outputs[i]
		if err := cmd.Start(); err != nil {
			t.Fatalf("ratelimittest: start child %d: %v", i, err)
		}
		wg.Go(func() { errs[i] = cmd.Wait() })
	}
	// Start every child at once, when all are ready (a race binary takes
	// a while to start), so that they contend from the first request.
	startErr := awaitReady(ctx, dir, count)
	if startErr == nil {
		startErr = os.WriteFile(filepath.Join(dir, "go"), []byte(strconv.FormatInt(time.Now().Add(50*time.Millisecond).UnixNano(), 10)), 0o600)
	}
	if startErr != nil {
		cancel()
	}
	wg.Wait()
	failed := startErr != nil
	reports := make([]childReport, count)
	for i := range count {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("report-%d.json", i)))
		if err == nil {
			err = json.Unmarshal(raw, &reports[i])
		}
		if errs[i] != nil || err != nil {
			failed = true
			t.Errorf("ratelimittest: child %d: exit %v, report %v; its output:\n%s", i, errs[i], err, outputs[i].String())
		}
	}
	if failed {
		t.Fatalf("ratelimittest: the children did not all run: %v", startErr)
	}
	checkReports(t, cfg, reports, res)
}

// quietFor is how long the children wait after their first request: for a
// sliding window a run can cross a boundary with, until Window/10 before
// the first boundary.
func quietFor(cfg grelratelimit.Config, dur time.Duration) time.Duration {
	if cfg.Algorithm != grelratelimit.SlidingWindow || dur < cfg.Window+cfg.Window/5 {
		return 0
	}
	return cfg.Window - cfg.Window/10
}

func awaitReady(ctx context.Context, dir string, count int) error {
	for {
		n := 0
		for i := range count {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("ready-%d", i))); err == nil {
				n++
			}
		}
		if n == count {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d children ready: %w", n, count, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// runPattern selects exactly the test called name (a subtest's path
// included) with -test.run.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func runChild(t *testing.T, a assignment, p Processes) {
	if p.Backend == nil {
		t.Fatal("ratelimittest: Processes.Backend is nil")
	}
	l, err := grelratelimit.NewFromConfig(a.Name, p.Backend(t, a.Shared), a.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.Dir, fmt.Sprintf("ready-%d", a.Index)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var start time.Time
	for deadline := time.Now().Add(time.Minute); ; {
		raw, err := os.ReadFile(filepath.Join(a.Dir, "go"))
		if err == nil {
			ns, perr := strconv.ParseInt(string(raw), 10, 64)
			if perr == nil {
				start = time.Unix(0, ns)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("ratelimittest: no start signal from the parent")
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Until(start))
	var rep childReport
	ctx := context.Background()
	for end, n := start.Add(a.Duration), 0; time.Now().Before(end); n++ {
		if n == 1 && a.Quiet > 0 {
			time.Sleep(time.Until(start.Add(a.Quiet)))
		}
		sent := time.Now()
		r, err := l.Allow(ctx, a.Key)
		if rep.First == 0 {
			rep.First = sent.UnixNano()
		}
		rep.Last = time.Now().UnixNano()
		if err == nil && !r.Degraded() && r.Allowed && a.Config.Algorithm == grelratelimit.SlidingWindow {
			rep.Grants = append(rep.Grants, [2]int64{sent.UnixNano(), rep.Last})
		}
		switch {
		case err != nil:
			rep.Errors++
			if rep.FirstError == "" {
				rep.FirstError = err.Error()
			}
		case r.Degraded():
			rep.Degraded++
		case r.Allowed:
			rep.Allowed++
		default:
			rep.Denied++
		}
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.Dir, fmt.Sprintf("report-%d.json", a.Index)), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkReports(t *testing.T, cfg grelratelimit.Config, reports []childReport, res time.Duration) {
	t.Helper()
	var allowed, denied int64
	first, last := int64(math.MaxInt64), int64(0)
	for i, r := range reports {
		if r.Errors > 0 || r.Degraded > 0 {
			t.Errorf("child %d: %d errors (first: %s), %d degraded decisions: the store must answer every decision",
				i, r.Errors, r.FirstError, r.Degraded)
		}
		allowed += r.Allowed
		denied += r.Denied
		if r.First != 0 {
			first = min(first, r.First)
		}
		last = max(last, r.Last)
		t.Logf("child %d: %d allowed, %d denied", i, r.Allowed, r.Denied)
	}
	if last == 0 {
		t.Fatal("no child made a request")
	}
	elapsed := time.Duration(last-first) + res
	bound, hold, what := Bound(cfg, elapsed)
	t.Logf("%d processes: %d allowed, %d denied in %v (%.0f decisions/s); %s permits at most %d",
		len(reports), allowed, denied, elapsed, float64(allowed+denied)/elapsed.Seconds(), what, bound)
	if allowed > bound {
		t.Errorf("%d permits granted in %v, more than the %d the %s permits", allowed, elapsed, bound, what)
	}
	if allowed < hold {
		t.Errorf("only %d permits granted: the processes should have taken at least the first %d", allowed, hold)
	}
	if denied == 0 {
		t.Errorf("no request was denied: the processes did not contend enough to test the limit")
	}
	if cfg.Algorithm == grelratelimit.SlidingWindow {
		var grants [][2]int64
		for _, r := range reports {
			grants = append(grants, r.Grants...)
		}
		if msg := CheckSpans(cfg, grants, res); msg != "" {
			t.Error(msg)
		}
	}
}

// CheckSpans checks the sliding window's bound over short spans on
// recorded grants, each the instants (UnixNano) its request was sent and
// its answer came: every set of grants whose decisions lie within a span of
// length d <= Window must hold at most floor(Limit x (1 + d/Window)). The
// span of a set is taken from its first request sent to its last answer,
// plus res (the store clock's resolution), so that a correct store never
// fails it. It returns "" when the bound holds, and otherwise the set that
// exceeds it the most.
func CheckSpans(cfg grelratelimit.Config, grants [][2]int64, res time.Duration) string {
	g := slices.Clone(grants)
	slices.SortFunc(g, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	w, limit := int64(cfg.Window), int64(cfg.Limit)
	var worst struct{ excess, n, most, d, at int64 }
	for i := range g {
		answered := int64(0)
		for j := i; j < len(g); j++ {
			answered = max(answered, g[j][1])
			d := answered - g[i][0] + int64(res)
			if d > w {
				break
			}
			n := int64(j - i + 1)
			if most := limit * (w + d) / w; n-most > worst.excess {
				worst.excess, worst.n, worst.most, worst.d, worst.at = n-most, n, most, d, g[i][0]-g[0][0]
			}
		}
	}
	if worst.excess == 0 {
		return ""
	}
	return fmt.Sprintf("%d permits granted within %v (%v after the first grant), more than the %d a sliding window of %d per %v permits over that span (Limit x (1 + d/Window))",
		worst.n, time.Duration(worst.d), time.Duration(worst.at), worst.most, cfg.Limit, cfg.Window)
}

// Bound returns the most permits cfg's algorithm may grant over a span of
// length d (see [RunProcesses]), the permits a full key holds at first, and
// a description of the rule.
func Bound(cfg grelratelimit.Config, d time.Duration) (most, first int64, rule string) {
	switch cfg.Algorithm {
	case grelratelimit.SlidingWindow:
		limit, w := int64(cfg.Limit), float64(cfg.Window)
		most = limit * (int64(math.Ceil(float64(d)/w)) + 1)
		if float64(d) <= w {
			most = min(most, int64(math.Floor(float64(limit)*(1+float64(d)/w))))
		}
		return most, limit, fmt.Sprintf("sliding window of %d per %v", cfg.Limit, cfg.Window)
	case grelratelimit.TokenBucket:
		interval := float64(cfg.Period) / cfg.Rate
		most = int64(cfg.Burst) + int64(math.Floor(float64(d)/interval))
		return most, int64(cfg.Burst), fmt.Sprintf("token bucket of %g per %v, burst %d", cfg.Rate, cfg.Period, cfg.Burst)
	}
	panic(errors.New("ratelimittest: unknown algorithm " + string(cfg.Algorithm)))
}
