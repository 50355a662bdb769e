// Package ratelimittest is the conformance suite of grelratelimit.Backend:
// every adapter runs [Run] against its real store, and the memory backend
// runs it inside testing/synctest. [RunProcesses] is the multi-process
// check: several OS processes hammer one key of a shared store and the
// total granted must stay within what the algorithm permits.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// Option configures [Run].
type Option func(*suite)

// Synctest runs every case inside a testing/synctest bubble, where time is
// fake and every expectation is exact. newBackend is then called inside
// the bubble; use it for backends that take time from the time package
// (grelratelimit.Memory), never for a real server.
func Synctest() Option { return func(s *suite) { s.synctest = true } }

// WithUnit sets the time unit of the cases in real time (default 200ms):
// intervals and windows are a few units, and a step may run up to a
// quarter of a unit late (a run with a late step is run again with twice
// the unit, up to three runs). Raise it for a slow store or a loaded machine.
func WithUnit(d time.Duration) Option { return func(s *suite) { s.unit = d } }

// WithResolution sets the store clock's resolution (default 2ms), the
// tolerance of the durations a backend returns in real time.
func WithResolution(d time.Duration) Option { return func(s *suite) { s.resolution = d } }

type suite struct {
	newBackend func(t *testing.T) grelratelimit.Backend
	synctest   bool
	unit       time.Duration
	resolution time.Duration
}

// Run runs the conformance suite: the same table of steps on every
// backend, then limiter-level checks (Wait, Reconfigure) and concurrency.
// newBackend is called once per case and must return a backend on a store
// that the test may write to; cases use distinct limiter names, so they
// may share one store.
func Run(t *testing.T, newBackend func(t *testing.T) grelratelimit.Backend, opts ...Option) {
	s := &suite{newBackend: newBackend, unit: 200 * time.Millisecond, resolution: 2 * time.Millisecond}
	for _, o := range opts {
		o(s)
	}
	if s.synctest {
		s.unit = time.Second
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !s.synctest {
				t.Parallel()
			}
			s.within(t, func(t *testing.T) { s.runCase(t, c) })
		})
	}
	for _, c := range limiterCases {
		t.Run(c.name, func(t *testing.T) {
			if !s.synctest {
				t.Parallel()
			}
			s.within(t, func(t *testing.T) { c.run(t, s) })
		})
	}
}

func (s *suite) within(t *testing.T, f func(t *testing.T)) {
	if s.synctest {
		synctest.Test(t, f)
		return
	}
	f(t)
}

type opKind uint8

const (
	opAllow opKind = iota
	opPeek
	opReset
)

func (o opKind) String() string { return [...]string{"allow", "peek", "reset"}[o] }

// step is one operation of a case, at a time in units after the case
// started. Durations are in units.
type step struct {
	sleep      float64 // units to wait before the step
	sleepRetry bool    // also wait the RetryAfter of the previous step
	op         opKind
	n          int64  // 0 means 1
	key        string // "" means "k"
	name       int    // which of the case's limiter names (0 or 1)
	allowed    bool
	remaining  int64
	retry      float64
	reset      float64
}

type testCase struct {
	name   string
	policy func(unit time.Duration) grelratelimit.Policy
	steps  []step
}

func bucket(limit int64, interval float64) func(time.Duration) grelratelimit.Policy {
	return func(u time.Duration) grelratelimit.Policy {
		return grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: limit, Interval: time.Duration(interval * float64(u))}
	}
}

func window(limit int64, w float64) func(time.Duration) grelratelimit.Policy {
	return func(u time.Duration) grelratelimit.Policy {
		return grelratelimit.Policy{Algorithm: grelratelimit.SlidingWindow, Limit: limit, Window: time.Duration(w * float64(u))}
	}
}

func allow(allowed bool, remaining int64, retry, reset float64) step {
	return step{op: opAllow, allowed: allowed, remaining: remaining, retry: retry, reset: reset}
}

func peek(allowed bool, remaining int64, retry, reset float64) step {
	return step{op: opPeek, allowed: allowed, remaining: remaining, retry: retry, reset: reset}
}

func (s step) after(units float64) step { s.sleep = units; return s }
func (s step) afterRetry() step         { s.sleepRetry = true; return s }
func (s step) times(n int64) step       { s.n = n; return s }
func (s step) on(key string) step       { s.key = key; return s }

// emptyKey addresses the empty key in a step ("" means the default "k").
const emptyKey = "\x00empty"

func (s step) named(i int) step { s.name = i; return s }

// cases is the table every backend runs. The expectations follow
// grelratelimit.Policy.Decide exactly; the times are chosen so that no
// decision sits within half a unit before a change of outcome.
var cases = []testCase{
	{name: "bucket/burst_then_refill", policy: bucket(3, 1), steps: []step{
		allow(true, 2, 0, 1),
		allow(true, 1, 0, 2),
		allow(true, 0, 0, 3),
		allow(false, 0, 1, 3),
		peek(false, 0, 1, 3),
		allow(false, 0, 0.5, 2.5).after(0.5),
		allow(true, 0, 0, 3).afterRetry(),
		allow(true, 1, 0, 1.5).after(2.5),
		peek(true, 3, 0, 0).after(10),
	}},
	{name: "bucket/allow_n", policy: bucket(5, 1), steps: []step{
		allow(true, 2, 0, 3).times(3),
		allow(false, 2, 1, 3).times(3),
		peek(true, 2, 0, 3).times(2),
		allow(true, 0, 0, 5).times(2),
		allow(false, 0, 5, 5).times(5),
		allow(true, 0, 0, 5).times(5).afterRetry(),
	}},
	{name: "bucket/denied_consumes_nothing", policy: bucket(2, 4), steps: []step{
		allow(true, 1, 0, 4),
		allow(true, 0, 0, 8),
		allow(false, 0, 4, 8),
		allow(false, 0, 4, 8),
		allow(false, 0, 4, 8),
		allow(true, 0, 0, 7).after(5),
	}},
	{name: "bucket/peek_costs_nothing", policy: bucket(2, 100), steps: []step{
		peek(true, 2, 0, 0),
		peek(true, 2, 0, 0),
		peek(true, 2, 0, 0).times(2),
		allow(true, 1, 0, 100),
		peek(true, 1, 0, 100),
		peek(false, 1, 100, 100).times(2),
		allow(true, 0, 0, 200),
	}},
	{name: "bucket/reset", policy: bucket(2, 100), steps: []step{
		allow(true, 1, 0, 100),
		allow(true, 0, 0, 200),
		allow(false, 0, 100, 200),
		{op: opReset},
		allow(true, 1, 0, 100),
		{op: opReset},
		{op: opReset},
		peek(true, 2, 0, 0),
	}},
	{name: "bucket/keys_and_names_are_separate", policy: bucket(1, 100), steps: []step{
		allow(true, 0, 0, 100),
		allow(false, 0, 100, 100),
		allow(true, 0, 0, 100).on("other"),
		allow(true, 0, 0, 100).named(1),
		allow(false, 0, 100, 100).named(1),
		allow(true, 0, 0, 100).on("ключ: with spaces, {braces} and 'quotes'"),
		allow(true, 0, 0, 100).on(emptyKey),
		allow(false, 0, 100, 100).on(emptyKey),
		{op: opReset, name: 1},
		allow(false, 0, 100, 100),
		allow(true, 0, 0, 100).named(1),
	}},
	{name: "bucket/fractional_interval", policy: bucket(2, 2.5), steps: []step{
		allow(true, 0, 0, 5).times(2),
		allow(false, 0, 2.5, 5),
		allow(true, 0, 0, 5).afterRetry(),
		allow(true, 0, 0, 4.5).after(3),
		allow(false, 0, 1.5, 4).after(0.5),
	}},
	{name: "window/limit", policy: window(3, 10), steps: []step{
		allow(true, 2, 0, 20),
		allow(true, 1, 0, 20),
		allow(true, 0, 0, 20),
		allow(false, 0, 10+10.0/3, 20),
		allow(false, 0, 10+20.0/3, 20).times(2),
		peek(false, 0, 10+10.0/3, 20),
		allow(false, 0, 10+10.0/3-1, 19).after(1),
	}},
	{name: "window/weighted_previous_window", policy: window(4, 4), steps: []step{
		allow(true, 0, 0, 8).times(4),
		allow(false, 0, 5, 8),
		peek(true, 2, 0, 1.5).after(6.5),
		allow(true, 1, 0, 5.5),
		allow(true, 0, 0, 5.5),
		allow(false, 0, 0.5, 5.5),
		allow(true, 0, 0, 5).afterRetry(),
		peek(true, 4, 0, 0).after(9),
	}},
	{name: "window/previous_window_only_when_adjacent", policy: window(2, 4), steps: []step{
		allow(true, 0, 0, 8).times(2),
		allow(true, 0, 0, 8).after(10).times(2),
		allow(false, 0, 6, 8),
		peek(true, 1, 0, 1).after(7),
	}},
	{name: "window/peek_and_reset", policy: window(3, 100), steps: []step{
		peek(true, 3, 0, 0),
		peek(true, 3, 0, 0).times(3),
		allow(true, 1, 0, 200).times(2),
		peek(false, 1, 150, 200).times(2),
		{op: opReset},
		peek(true, 3, 0, 0),
		allow(true, 0, 0, 200).times(3),
		allow(false, 0, 100+100.0/3, 200),
		allow(true, 2, 0, 200).on("other"),
		allow(true, 2, 0, 200).named(1),
	}},
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// limiterName makes a name unique to this run, so that cases never see a
// previous run's state on a persistent store.
func limiterName(c string, i int) string {
	return fmt.Sprintf("rlt-%s-%d-%s", strings.NewReplacer("/", "-", "_", "-").Replace(c), i, randomSuffix())
}

// attempts is how many times a real-time case runs when a step ran too
// late to be judged (a loaded machine): only a run on time counts, and each
// run after a late one doubles the unit, so that a machine that is slow
// for the whole test still gets a run it can judge (200ms, 400ms, 800ms by
// default).
const attempts = 3

func (s *suite) runCase(t *testing.T, c testCase) {
	b := s.newBackend(t)
	if b == nil {
		t.Fatal("newBackend returned nil")
	}
	run := *s
	for i := 1; ; i++ {
		failures, late, err := run.attempt(b, c)
		if err != nil {
			t.Fatal(err)
		}
		if late == "" {
			for _, f := range failures {
				t.Error(f)
			}
			return
		}
		if i == attempts {
			t.Fatalf("%s, in each of %d runs (the last with a unit of %v): the store or the machine is too slow (raise the unit with ratelimittest.WithUnit)", late, attempts, run.unit)
		}
		run.unit *= 2
		t.Logf("run %d: %s; running the case again with a unit of %v", i, late, run.unit)
	}
}

// attempt runs the steps of c once, under fresh limiter names. It returns
// the failed expectations, or why a step ran too late to be judged.
func (s *suite) attempt(b grelratelimit.Backend, c testCase) (failures []string, late string, err error) {
	policy := c.policy(s.unit)
	names := [2]string{limiterName(c.name, 0), limiterName(c.name, 1)}
	ctx := context.Background()
	// Warm up (connections, script caches, prepared statements) before the
	// clock starts, on a key no step uses.
	for _, peek := range []bool{false, true} {
		if _, err := b.Decide(ctx, grelratelimit.Request{Name: names[0], Key: "warm-up", N: 1, Peek: peek, Policy: policy}); err != nil {
			return nil, "", fmt.Errorf("warm-up: %w", err)
		}
	}
	start := time.Now()
	var sched, lastRetry, maxDrift time.Duration
	var lastWant float64
	var lastAt time.Time
	for i, st := range c.steps {
		sched += s.units(st.sleep)
		if st.sleepRetry {
			sched += s.units(lastWant)
			// Sleep what the backend said, from when it said it.
			time.Sleep(time.Until(lastAt.Add(lastRetry)))
		}
		time.Sleep(time.Until(start.Add(sched)))
		key := st.key
		switch key {
		case "":
			key = "k"
		case emptyKey:
			key = ""
		}
		name := names[st.name]
		where := fmt.Sprintf("step %d (%s", i, st.op)
		if st.n > 1 {
			where += fmt.Sprintf(" n=%d", st.n)
		}
		where += fmt.Sprintf(" key %q name %d)", key, st.name)
		if st.op == opReset {
			if err := b.Reset(ctx, name, key); err != nil {
				return nil, "", fmt.Errorf("%s: %w", where, err)
			}
			continue
		}
		n := max(st.n, 1)
		d, err := b.Decide(ctx, grelratelimit.Request{Name: name, Key: key, N: n, Peek: st.op == opPeek, Policy: policy})
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", where, err)
		}
		lastAt = time.Now()
		drift := max(lastAt.Sub(start)-sched, 0)
		if !s.synctest && drift > s.unit/4 {
			return nil, fmt.Sprintf("%s ran %v late, more than a quarter of the unit %v", where, drift, s.unit), nil
		}
		maxDrift = max(maxDrift, drift)
		failures = append(failures, s.check(where, policy, d, st, maxDrift)...)
		lastRetry, lastWant = d.RetryAfter, st.retry
	}
	return failures, "", nil
}

func (s *suite) units(u float64) time.Duration { return time.Duration(u * float64(s.unit)) }

// check compares a decision with its expectation. In a bubble every value
// is exact (durations to a microsecond, for the floating-point window
// arithmetic). In real time each step runs a little late, and the key's
// state was written by earlier steps that ran late by other amounts: a
// duration may then be off by up to the largest lateness so far (plus the
// store clock's resolution), and Remaining by what that time earns.
func (s *suite) check(where string, p grelratelimit.Policy, d grelratelimit.Decision, st step, maxDrift time.Duration) []string {
	var out []string
	if d.Allowed != st.allowed {
		out = append(out, fmt.Sprintf("%s: Allowed = %v, want %v (decision %+v)", where, d.Allowed, st.allowed, d))
	}
	var extra int64
	tol := time.Microsecond
	if !s.synctest {
		per := p.Interval
		if p.Algorithm == grelratelimit.SlidingWindow {
			per = p.Window / time.Duration(p.Limit)
		}
		tol = maxDrift + s.resolution
		extra = int64(math.Ceil(float64(tol) / float64(per)))
	}
	if d.Remaining < st.remaining-extra || d.Remaining > st.remaining+extra {
		out = append(out, fmt.Sprintf("%s: Remaining = %d, want %d (within %d for timing)", where, d.Remaining, st.remaining, extra))
	}
	out = append(out, checkDuration(where, "RetryAfter", d.RetryAfter, s.units(st.retry), tol)...)
	return append(out, checkDuration(where, "ResetAfter", d.ResetAfter, s.units(st.reset), tol)...)
}

func checkDuration(where, what string, got, want, tol time.Duration) []string {
	if want == 0 {
		if got != 0 {
			return []string{fmt.Sprintf("%s: %s = %v, want 0", where, what, got)}
		}
		return nil
	}
	if got < want-tol || got > want+tol {
		return []string{fmt.Sprintf("%s: %s = %v, want %v (within %v)", where, what, got, want, tol)}
	}
	return nil
}

// limiterCase is a check made through a Limiter on the backend.
type limiterCase struct {
	name string
	run  func(t *testing.T, s *suite)
}

var limiterCases = []limiterCase{
	{name: "limiter/wait_takes_the_next_permit", run: func(t *testing.T, s *suite) {
		l := s.limiter(t, bucketConfig(1, 2*s.unit))
		ctx := context.Background()
		if r, err := l.Allow(ctx, "k"); err != nil || !r.Allowed {
			t.Fatalf("Allow = %+v, %v; want allowed", r, err)
		}
		start := time.Now()
		if err := l.Wait(ctx, "k"); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		elapsed := time.Since(start)
		if lo := 2*s.unit - s.slack(); elapsed < lo {
			t.Errorf("Wait returned after %v, before the permit was due (%v)", elapsed, lo)
		}
		if hi := 2*s.unit + s.unit/2; !s.synctest && elapsed > hi {
			t.Errorf("Wait returned after %v, want about %v", elapsed, 2*s.unit)
		}
		if s.synctest && elapsed != 2*s.unit {
			t.Errorf("Wait returned after %v, want exactly %v", elapsed, 2*s.unit)
		}
		if r, err := l.Peek(ctx, "k"); err != nil || r.Allowed {
			t.Errorf("after Wait, Peek = %+v, %v; want the permit taken", r, err)
		}
	}},
	{name: "limiter/wait_fails_at_once_past_the_deadline", run: func(t *testing.T, s *suite) {
		l := s.limiter(t, bucketConfig(1, 100*s.unit))
		ctx, cancel := context.WithTimeout(context.Background(), 10*s.unit)
		defer cancel()
		if err := l.Wait(ctx, "k"); err != nil {
			t.Fatalf("first Wait: %v", err)
		}
		start := time.Now()
		err := l.Wait(ctx, "k")
		if !errors.Is(err, grelratelimit.ErrWaitExceedsDeadline) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want ErrWaitExceedsDeadline (and context.DeadlineExceeded)", err)
		}
		if elapsed := time.Since(start); elapsed > s.slack() {
			t.Errorf("Wait took %v to fail, want at once", elapsed)
		}
	}},
	{name: "limiter/wait_returns_when_cancelled", run: func(t *testing.T, s *suite) {
		l := s.limiter(t, windowConfig(1, 100*s.unit))
		ctx, cancel := context.WithCancel(context.Background())
		if err := l.Wait(ctx, "k"); err != nil {
			t.Fatalf("first Wait: %v", err)
		}
		time.AfterFunc(s.unit, cancel)
		start := time.Now()
		if err := l.Wait(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed < s.unit-s.slack() || elapsed > s.unit+s.slack() {
			t.Errorf("Wait returned %v after it started, want right after the cancel at %v", elapsed, s.unit)
		}
		if _, err := l.Allow(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Allow on a cancelled context = %v, want context.Canceled", err)
		}
	}},
	{name: "limiter/reconfigure_applies_at_the_next_decision", run: func(t *testing.T, s *suite) {
		cfg := bucketConfig(2, 100*s.unit)
		l := s.limiter(t, cfg)
		ctx := context.Background()
		for range 2 {
			if r, _ := l.Allow(ctx, "k"); !r.Allowed {
				t.Fatal("burst of 2 refused")
			}
		}
		if r, _ := l.Allow(ctx, "k"); r.Allowed {
			t.Fatal("third permit granted with a burst of 2")
		}
		cfg.Burst = 5
		if err := l.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		r, err := l.AllowN(ctx, "k", 3)
		if err != nil || !r.Allowed || r.Limit != 5 || r.Remaining != 0 {
			t.Fatalf("after raising Burst to 5, AllowN(3) = %+v, %v; want allowed, Limit 5, Remaining 0", r, err)
		}
		if _, err := l.AllowN(ctx, "k", 6); !errors.Is(err, grelratelimit.ErrExceedsLimit) {
			t.Errorf("AllowN(6) with Burst 5 = %v, want ErrExceedsLimit", err)
		}
	}},
	{name: "limiter/result_fields", run: func(t *testing.T, s *suite) {
		l := s.limiter(t, windowConfig(10, 100*s.unit))
		r, err := l.AllowN(context.Background(), "k", 4)
		if err != nil {
			t.Fatal(err)
		}
		want := grelratelimit.Result{Allowed: true, Limit: 10, Remaining: 6, ResetAfter: 200 * s.unit, Mode: grelratelimit.ModeNormal}
		if r.Allowed != want.Allowed || r.Limit != want.Limit || r.Remaining != want.Remaining || r.RetryAfter != 0 ||
			r.Mode != want.Mode || r.Degraded() || r.ResetAfter > want.ResetAfter || r.ResetAfter < want.ResetAfter-s.slack() {
			t.Errorf("AllowN(4) = %+v, want %+v", r, want)
		}
	}},
	{name: "concurrency/bucket_grants_exactly_the_burst", run: func(t *testing.T, s *suite) {
		s.hammer(t, bucketConfig(50, 1000*s.unit), 1, 50)
	}},
	{name: "concurrency/window_grants_exactly_the_limit", run: func(t *testing.T, s *suite) {
		s.hammer(t, windowConfig(50, 1000*s.unit), 1, 50)
	}},
	{name: "concurrency/allow_n_is_all_or_nothing", run: func(t *testing.T, s *suite) {
		s.hammer(t, bucketConfig(50, 1000*s.unit), 3, 48)
	}},
}

// slack is how late a real-time operation may be observed.
func (s *suite) slack() time.Duration {
	if s.synctest {
		return 0
	}
	return s.unit / 2
}

func bucketConfig(burst int, interval time.Duration) grelratelimit.Config {
	c := grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
	c.Burst, c.Rate, c.Period = burst, 1, interval
	c.Degradation = grelratelimit.FailClosed
	c.Timeout = 5 * time.Second
	return c
}

func windowConfig(limit int, w time.Duration) grelratelimit.Config {
	c := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	c.Limit, c.Window = limit, w
	c.Degradation = grelratelimit.FailClosed
	c.Timeout = 5 * time.Second
	return c
}

func (s *suite) limiter(t *testing.T, cfg grelratelimit.Config) *grelratelimit.Limiter {
	t.Helper()
	l, err := grelratelimit.NewFromConfig(limiterName(t.Name(), 0), s.newBackend(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// hammer runs 10 goroutines x 20 AllowN(n) on one key whose limit cannot
// refill during the test: exactly want permits must be granted.
func (s *suite) hammer(t *testing.T, cfg grelratelimit.Config, n, want int) {
	l := s.limiter(t, cfg)
	var granted, degraded atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 10 {
		wg.Go(func() {
			for range 20 {
				r, err := l.AllowN(context.Background(), "k", n)
				switch {
				case err != nil:
					errs <- err
				case r.Degraded():
					degraded.Add(1)
				case r.Allowed:
					granted.Add(int64(n))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if degraded.Load() != 0 {
		t.Errorf("%d decisions degraded: the store failed", degraded.Load())
	}
	if got := granted.Load(); got != int64(want) {
		t.Errorf("granted %d permits, want exactly %d", got, want)
	}
}
