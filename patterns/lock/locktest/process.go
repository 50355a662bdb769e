package grellocktest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// The variables through which a parent test hands a child process its part.
const (
	envRole   = "GREL_LOCKTEST_ROLE" // "contend" or "elect"
	envFile   = "GREL_LOCKTEST_FILE"
	envName   = "GREL_LOCKTEST_NAME"
	envHolds  = "GREL_LOCKTEST_HOLDS"
	envLease  = "GREL_LOCKTEST_LEASE"
	envRetry  = "GREL_LOCKTEST_RETRY"
	envRenew  = "GREL_LOCKTEST_RENEW"
	envStart  = "GREL_LOCKTEST_START"
	envShared = "GREL_LOCKTEST_SHARED"
)

// IsChild reports whether this process is a child started by [Contend] or
// [Failover]. A test that prepares a store namespace before calling them
// skips that preparation in a child: the child gets the parent's Shared
// value instead.
func IsChild() bool { return os.Getenv(envRole) != "" }

// runChild plays this process's part and exits. It runs inside the same test
// function as the parent (the test binary is re-run with -test.run matching
// that test only), so no TestMain is needed.
func runChild(t *testing.T, role string, newBackend func(shared string) (grellock.Backend, error)) {
	if os.Getenv(envRole) != role {
		t.Fatalf("grellocktest: this child was started for %q", os.Getenv(envRole))
	}
	b, err := newBackend(os.Getenv(envShared))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grellocktest child: open backend:", err)
		os.Exit(2)
	}
	if role == "contend" {
		err = childContend(b)
	} else {
		err = childElect(b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grellocktest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// testPattern is the -test.run pattern that selects exactly t.
func testPattern(t *testing.T) string {
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}

// appendLine writes one line with a single write on a file opened for
// appending, so lines of several processes never interleave.
func appendLine(f *os.File, format string, args ...any) error {
	_, err := f.WriteString(fmt.Sprintf(format, args...) + "\n")
	return err
}

func childContend(b grellock.Backend) error {
	holds, _ := strconv.Atoi(os.Getenv(envHolds))
	lease, retry := envDuration(envLease), envDuration(envRetry)
	pid := os.Getpid()
	l, err := grellock.New(os.Getenv(envName), b, NoEnv(), grellock.WithLeaseDuration(lease),
		grellock.WithRetryInterval(retry), grellock.WithWorker("proc-"+strconv.Itoa(pid)))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(os.Getenv(envFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	startNs, _ := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	time.Sleep(time.Until(time.Unix(0, startNs)))
	for i := range holds {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		h, err := l.Acquire(ctx)
		if err != nil {
			cancel()
			return fmt.Errorf("hold %d: acquire: %w", i, err)
		}
		start := time.Now()
		time.Sleep(time.Duration(2+i%5) * time.Millisecond)
		end := time.Now()
		lost := 0
		if h.Err() != nil {
			lost = 1
			if e := h.Expiry(); e.Before(end) {
				end = e
			}
		}
		if err := appendLine(f, "hold %d %d %d %d %d", pid, h.Fence(), start.UnixNano(), end.UnixNano(), lost); err != nil {
			cancel()
			return err
		}
		_ = h.Release(ctx)
		cancel()
		time.Sleep(time.Duration(i%3) * time.Millisecond)
	}
	return nil
}

func childElect(b grellock.Backend) error {
	name := os.Getenv(envName)
	pid := os.Getpid()
	f, err := os.OpenFile(os.Getenv(envFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	write := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		_ = appendLine(f, format, args...)
	}
	e, err := grellock.NewLeaderElection(name, b, NoEnv(), grellock.WithWorker("proc-"+strconv.Itoa(pid)),
		grellock.WithLeaseDuration(envDuration(envLease)), grellock.WithRenewDeadline(envDuration(envRenew)),
		grellock.WithRetryInterval(envDuration(envRetry)),
		grellock.WithCallbacks(grellock.Callbacks{
			OnStartedLeading: func(ctx context.Context) {
				var fence uint64
				if h, ok := grellock.HoldFromContext(ctx, name); ok {
					fence = h.Fence()
				}
				write("lead %d %d %d", pid, fence, time.Now().UnixNano())
				<-ctx.Done()
			},
			OnStoppedLeading: func() { write("stop %d 0 %d", pid, time.Now().UnixNano()) },
		}))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return e.Run(ctx)
}

// syncBuffer is a child's output, written by exec's copying goroutines and
// read by a failing test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type child struct {
	cmd    *exec.Cmd
	out    syncBuffer
	exited chan struct{}
	err    error
}

func startChildren(t *testing.T, n int, env []string) []*child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pattern := testPattern(t)
	children := make([]*child, n)
	for i := range children {
		c := &child{exited: make(chan struct{})}
		c.cmd = exec.Command(exe, "-test.run="+pattern, "-test.count=1")
		c.cmd.Env = append(os.Environ(), env...)
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			c.err = c.cmd.Wait()
			close(c.exited)
		}()
		children[i] = c
	}
	t.Cleanup(func() {
		for _, c := range children {
			select {
			case <-c.exited:
			default:
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		}
	})
	return children
}

// Contention configures [Contend].
type Contention struct {
	// Processes is how many processes contend (default 3).
	Processes int
	// Holds is how many times each process acquires and releases (default
	// 20).
	Holds int
	// Lease and RetryInterval configure each process's Lock (default 5s and
	// 10ms).
	Lease, RetryInterval time.Duration
	// Name is the lock name (default: unique to the test).
	Name string
	// Shared is handed to every child's NewBackend: what a client needs to
	// reach the test's store namespace (a URL and a key prefix, a file path).
	Shared string
	// NewBackend opens a client of the store in a child process.
	NewBackend func(shared string) (grellock.Backend, error)
	// Timeout bounds the whole run (default 2m).
	Timeout time.Duration
}

// Hold is one recorded hold of a contending process.
type Hold struct {
	PID        int
	Fence      uint64
	Start, End time.Time
	Lost       bool
}

// Contend runs c.Processes copies of the test binary, each re-running the
// calling test in a child role (see [IsChild]), that
// acquire and release one lock c.Holds times each, recording every hold
// (wall-clock interval and fence) in a shared file, and fails t if two holds
// overlap or fences do not increase in the order of the holds. It returns
// the holds, ordered by start.
func Contend(t *testing.T, c Contention) []Hold {
	t.Helper()
	if IsChild() {
		runChild(t, "contend", c.NewBackend)
	}
	c.Processes = cmpOr(c.Processes, 3)
	c.Holds = cmpOr(c.Holds, 20)
	c.Lease = cmpOr(c.Lease, 5*time.Second)
	c.RetryInterval = cmpOr(c.RetryInterval, 10*time.Millisecond)
	c.Timeout = cmpOr(c.Timeout, 2*time.Minute)
	if c.Name == "" {
		c.Name = LockName(t)
	}
	file := t.TempDir() + "/holds"
	env := []string{
		envRole + "=contend", envFile + "=" + file, envName + "=" + c.Name,
		envHolds + "=" + strconv.Itoa(c.Holds), envLease + "=" + c.Lease.String(), envRetry + "=" + c.RetryInterval.String(),
		envStart + "=" + strconv.FormatInt(time.Now().Add(2*time.Second).UnixNano(), 10),
		envShared + "=" + c.Shared,
	}
	children := startChildren(t, c.Processes, env)
	deadline := time.After(c.Timeout)
	for i, ch := range children {
		select {
		case <-ch.exited:
			if ch.err != nil {
				t.Fatalf("process %d failed: %v\n%s", i, ch.err, ch.out.String())
			}
		case <-deadline:
			t.Fatalf("processes still running after %v", c.Timeout)
		}
	}
	holds := readHolds(t, file)
	if len(holds) != c.Processes*c.Holds {
		t.Fatalf("%d holds recorded, want %d", len(holds), c.Processes*c.Holds)
	}
	CheckHolds(t, holds)
	pids := map[int]bool{}
	for _, h := range holds {
		pids[h.PID] = true
	}
	if len(pids) != c.Processes {
		t.Errorf("%d processes recorded holds, want %d", len(pids), c.Processes)
	}
	return holds
}

// overlapTolerance is how much two recorded holds may overlap: the
// resolution of reading the wall clock in two processes. Holds are recorded
// inside the hold (after Acquire returned, before Release was called), so a
// correct lock never makes them overlap.
const overlapTolerance = time.Millisecond

// CheckHolds fails t if two holds overlap or if fences do not strictly
// increase in the order of the holds' starts. A lost hold ends at its loss
// deadline.
func CheckHolds(t testing.TB, holds []Hold) {
	t.Helper()
	slices.SortFunc(holds, func(a, b Hold) int { return a.Start.Compare(b.Start) })
	for i := 1; i < len(holds); i++ {
		prev, cur := holds[i-1], holds[i]
		if cur.Start.Before(prev.End.Add(-overlapTolerance)) {
			t.Errorf("holds overlap by %v: pid %d fence %d [%v, %v] and pid %d fence %d [%v, %v]",
				prev.End.Sub(cur.Start), prev.PID, prev.Fence, prev.Start.Format(time.StampMicro), prev.End.Format(time.StampMicro),
				cur.PID, cur.Fence, cur.Start.Format(time.StampMicro), cur.End.Format(time.StampMicro))
		}
		if cur.Fence <= prev.Fence {
			t.Errorf("fence did not increase: pid %d fence %d, then pid %d fence %d", prev.PID, prev.Fence, cur.PID, cur.Fence)
		}
	}
}

func readHolds(t testing.TB, file string) []Hold {
	t.Helper()
	var out []Hold
	for _, f := range readLines(t, file) {
		if f[0] != "hold" || len(f) != 6 {
			continue
		}
		out = append(out, Hold{PID: atoi(f[1]), Fence: uint64(atoi(f[2])), Start: time.Unix(0, int64(atoi(f[3]))), End: time.Unix(0, int64(atoi(f[4]))), Lost: f[5] == "1"})
	}
	return out
}

func readLines(t testing.TB, file string) [][]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// FailoverConfig configures [Failover].
type FailoverConfig struct {
	// Processes is how many candidates run (default 3); Failover kills the
	// leader Processes-1 times.
	Processes int
	// Lease, RenewDeadline and RetryInterval configure each candidate
	// (default 2s, 1s, 100ms).
	Lease, RenewDeadline, RetryInterval time.Duration
	// Name is the election name (default: unique to the test).
	Name string
	// Shared and NewBackend are as in [Contention].
	Shared     string
	NewBackend func(shared string) (grellock.Backend, error)
	// Slack is how much later than Lease + RetryInterval a successor may
	// lead, for process scheduling and round trips (default 500ms).
	Slack time.Duration
}

// Term is one recorded leadership term.
type Term struct {
	PID        int
	Fence      uint64
	Start, End time.Time
	Killed     bool
}

// Failover runs c.Processes candidates of one election (child processes
// re-running the calling test, as in [Contend]), kills
// the leader with SIGKILL Processes-1 times, and fails t unless another
// process leads within Lease + RetryInterval (+ Slack) of each kill, terms
// never overlap and fences increase. It returns the terms.
func Failover(t *testing.T, c FailoverConfig) []Term {
	t.Helper()
	if IsChild() {
		runChild(t, "elect", c.NewBackend)
	}
	c.Processes = cmpOr(c.Processes, 3)
	c.Lease = cmpOr(c.Lease, 2*time.Second)
	c.RenewDeadline = cmpOr(c.RenewDeadline, time.Second)
	c.RetryInterval = cmpOr(c.RetryInterval, 100*time.Millisecond)
	c.Slack = cmpOr(c.Slack, 500*time.Millisecond)
	if c.Name == "" {
		c.Name = LockName(t)
	}
	file := t.TempDir() + "/terms"
	env := []string{
		envRole + "=elect", envFile + "=" + file, envName + "=" + c.Name,
		envLease + "=" + c.Lease.String(), envRenew + "=" + c.RenewDeadline.String(), envRetry + "=" + c.RetryInterval.String(),
		envShared + "=" + c.Shared,
	}
	children := startChildren(t, c.Processes, env)
	byPID := map[int]*child{}
	for _, ch := range children {
		byPID[ch.cmd.Process.Pid] = ch
	}
	killed := map[int]time.Time{}
	// waitLeader returns the first term started by a process still alive
	// after since.
	waitLeader := func(since time.Time, within time.Duration) (Term, bool) {
		until := time.Now().Add(within)
		for time.Now().Before(until) {
			for _, tm := range readTerms(t, file, killed) {
				if _, dead := killed[tm.PID]; !dead && !tm.Start.Before(since) && tm.End.IsZero() {
					return tm, true
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		return Term{}, false
	}
	leader, ok := waitLeader(time.Time{}, 10*time.Second+c.Lease)
	if !ok {
		t.Fatalf("no leader among %d processes\n%s", c.Processes, outputs(children))
	}
	for range c.Processes - 1 {
		at := time.Now()
		ch := byPID[leader.PID]
		if err := ch.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-ch.exited
		killed[leader.PID] = at
		next, ok := waitLeader(at, c.Lease+c.RetryInterval+c.Slack+5*time.Second)
		if !ok {
			t.Fatalf("no new leader after killing pid %d\n%s", leader.PID, outputs(children))
		}
		d := next.Start.Sub(at)
		t.Logf("killed leader pid %d; pid %d led %v later (lease %v, retry %v)", leader.PID, next.PID, d.Round(time.Millisecond), c.Lease, c.RetryInterval)
		if d > c.Lease+c.RetryInterval+c.Slack {
			t.Errorf("new leader pid %d %v after the leader was killed; want within lease + retry interval (%v)", next.PID, d, c.Lease+c.RetryInterval)
		}
		leader = next
	}
	for _, ch := range children {
		select {
		case <-ch.exited:
		default:
			_ = ch.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, ch := range children {
		select {
		case <-ch.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("a candidate did not stop on SIGTERM\n%s", ch.out.String())
		}
	}
	terms := readTerms(t, file, killed)
	slices.SortFunc(terms, func(a, b Term) int { return a.Start.Compare(b.Start) })
	for i := 1; i < len(terms); i++ {
		prev, cur := terms[i-1], terms[i]
		if !prev.End.IsZero() && cur.Start.Before(prev.End.Add(-overlapTolerance)) {
			t.Errorf("terms overlap: pid %d until %v, pid %d from %v", prev.PID, prev.End.Format(time.StampMicro), cur.PID, cur.Start.Format(time.StampMicro))
		}
		if cur.Fence <= prev.Fence {
			t.Errorf("term fence did not increase: %d then %d", prev.Fence, cur.Fence)
		}
	}
	return terms
}

func readTerms(t testing.TB, file string, killed map[int]time.Time) []Term {
	var terms []Term
	open := map[int]int{}
	for _, f := range readLines(t, file) {
		if len(f) != 4 {
			continue
		}
		pid, at := atoi(f[1]), time.Unix(0, int64(atoi(f[3])))
		switch f[0] {
		case "lead":
			open[pid] = len(terms)
			terms = append(terms, Term{PID: pid, Fence: uint64(atoi(f[2])), Start: at})
		case "stop":
			if i, ok := open[pid]; ok {
				terms[i].End = at
				delete(open, pid)
			}
		}
	}
	for pid, i := range open {
		if at, ok := killed[pid]; ok {
			terms[i].End, terms[i].Killed = at, true
		}
	}
	return terms
}

func outputs(children []*child) string {
	var b strings.Builder
	for i, c := range children {
		fmt.Fprintf(&b, "--- process %d (pid %d):\n%s\n", i, c.cmd.Process.Pid, c.out.String())
	}
	return b.String()
}
