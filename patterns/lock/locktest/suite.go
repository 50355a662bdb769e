package grellocktest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// Run runs the conformance suite. newBackend returns a new client of the
// store under test; calls made with the same t must return clients of one
// store namespace (the suite calls it twice to get two clients), calls with
// different t's isolated namespaces. [PerTest] builds such a function.
func Run(t *testing.T, newBackend func(t *testing.T) grellock.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"BackendContract", testBackendContract},
		{"SameTokenReacquire", testSameTokenReacquire},
		{"MutualExclusion", testMutualExclusion},
		{"ExpiryTakeover", testExpiryTakeover},
		{"FencesIncrease", testFencesIncrease},
		{"StaleHolderRefused", testStaleHolderRefused},
		{"Reentrancy", testReentrancy},
		{"CancelWhileWaiting", testCancelWhileWaiting},
		{"ReleasedPickedUpWithinRetry", testReleasedPickedUp},
		{"ExtendAndAutoRenew", testExtendAndAutoRenew},
		{"LossSignalledLocally", testLossSignalled},
		{"TaskLockMinHold", testTaskLock},
		{"LeaderElection", testLeaderElection},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &suite{t: t, newBackend: newBackend})
		})
	}
}

// PerTest turns a namespace opener into the function [Run] takes: open is
// called once per test and returns a function that makes a new client of
// that test's namespace.
func PerTest(open func(t *testing.T) func() grellock.Backend) func(t *testing.T) grellock.Backend {
	var mu sync.Mutex
	clients := map[*testing.T]func() grellock.Backend{}
	return func(t *testing.T) grellock.Backend {
		mu.Lock()
		c, ok := clients[t]
		if !ok {
			c = open(t)
			clients[t] = c
			t.Cleanup(func() {
				mu.Lock()
				delete(clients, t)
				mu.Unlock()
			})
		}
		mu.Unlock()
		return c()
	}
}

type suite struct {
	t          *testing.T
	newBackend func(t *testing.T) grellock.Backend
	name       string
}

// lease is the suite's short lease: one second, what a Kubernetes Lease can
// express.
const lease = time.Second

// slack absorbs scheduling and round trips on a loaded machine.
const slack = 400 * time.Millisecond

func (s *suite) lockName() string {
	if s.name == "" {
		s.name = LockName(s.t)
	}
	return s.name
}

// LockName returns a name unique to t that every store accepts (a DNS-1123
// label, as Kubernetes Lease names must be).
func LockName(t testing.TB) string {
	base := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range base {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 40 {
		s = s[len(s)-40:]
		s = strings.Trim(s, "-")
	}
	return fmt.Sprintf("lt-%s-%08x", s, rand.Uint32())
}

var emptyRegistry = grelconfig.NewRegistry(grelconfig.Map(nil))

// NoEnv is an option that keeps a test's pattern away from the process
// environment.
func NoEnv() grellock.Option { return grellock.WithRegistry(emptyRegistry) }

func (s *suite) lock(b grellock.Backend, opts ...grellock.Option) *grellock.Lock {
	s.t.Helper()
	l, err := grellock.New(s.lockName(), b, append([]grellock.Option{NoEnv(), grellock.WithRetryInterval(20 * time.Millisecond), grellock.WithLeaseDuration(10 * time.Second)}, opts...)...)
	if err != nil {
		s.t.Fatalf("grellock.New: %v", err)
	}
	s.t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testBackendContract(t *testing.T, s *suite) {
	b := s.newBackend(t)
	ctx := ctxT(t, 30*time.Second)
	name := s.lockName()

	rec, err := b.Get(ctx, name)
	if err != nil || rec.Held() || rec.Fence != 0 || rec.Holder != "" {
		t.Fatalf("Get(never acquired) = %+v, %v; want a zero record", rec, err)
	}
	if rec.Name != name {
		t.Errorf("Get(never acquired).Name = %q, want %q", rec.Name, name)
	}
	meta := map[string]string{"addr": "10.0.0.1:8080", "zone": "a"}
	a := grellock.Request{Name: name, Token: "tok-a", Holder: "worker-a", Lease: 10 * time.Second, Metadata: meta}
	bReq := grellock.Request{Name: name, Token: "tok-b", Holder: "worker-b", Lease: 10 * time.Second}

	type step struct {
		what  string
		do    func() (grellock.Record, error)
		err   error // wanted sentinel, nil for success
		check func(grellock.Record) string
	}
	var first, again grellock.Record
	steps := []step{
		{"acquire a", func() (grellock.Record, error) { return b.Acquire(ctx, a) }, nil, func(r grellock.Record) string {
			first = r
			switch {
			case r.Fence < 1:
				return "fence must start at 1 or more"
			case r.Holder != "worker-a" || r.Token != "tok-a":
				return "holder and token must be a's"
			case r.AcquiredAt.IsZero() || r.RenewedAt.IsZero() || !r.ExpiresAt.After(r.RenewedAt):
				return "times must be set and expiry after renewal"
			case r.Lease != 10*time.Second:
				return "lease must be the requested one"
			case !maps.Equal(r.Metadata, meta):
				return "metadata must be stored"
			}
			return ""
		}},
		{"acquire b while a holds", func() (grellock.Record, error) { return b.Acquire(ctx, bReq) }, grellock.ErrNotAcquired, func(r grellock.Record) string {
			if r.Holder != "worker-a" || r.Fence != first.Fence {
				return "the refusal must report a's record"
			}
			return ""
		}},
		{"extend by b", func() (grellock.Record, error) { return b.Extend(ctx, bReq) }, grellock.ErrNotHeld, nil},
		{"release by b", func() (grellock.Record, error) { return grellock.Record{}, b.Release(ctx, name, "tok-b") }, grellock.ErrNotHeld, nil},
		{"re-acquire by a extends", func() (grellock.Record, error) { return b.Acquire(ctx, a) }, nil, func(r grellock.Record) string {
			if r.Fence != first.Fence || !r.AcquiredAt.Equal(first.AcquiredAt) || r.RenewedAt.Before(first.RenewedAt) {
				return "a valid re-acquire must keep fence and acquisition time"
			}
			return ""
		}},
		{"extend by a", func() (grellock.Record, error) {
			return b.Extend(ctx, grellock.Request{Name: name, Token: "tok-a", Holder: "worker-a", Lease: 20 * time.Second})
		}, nil, func(r grellock.Record) string {
			if r.Fence != first.Fence || r.Lease != 20*time.Second || !r.ExpiresAt.After(first.ExpiresAt) {
				return "extend must keep the fence and push the expiry with the new lease"
			}
			return ""
		}},
		{"get while held", func() (grellock.Record, error) { return b.Get(ctx, name) }, nil, func(r grellock.Record) string {
			if r.Holder != "worker-a" || r.Token != "tok-a" || r.Fence != first.Fence || !maps.Equal(r.Metadata, meta) {
				return "get must return a's record"
			}
			return ""
		}},
		{"release by a", func() (grellock.Record, error) { return grellock.Record{}, b.Release(ctx, name, "tok-a") }, nil, nil},
		{"release by a again", func() (grellock.Record, error) { return grellock.Record{}, b.Release(ctx, name, "tok-a") }, grellock.ErrNotHeld, nil},
		{"extend after release", func() (grellock.Record, error) { return b.Extend(ctx, a) }, grellock.ErrNotHeld, nil},
		{"get after release", func() (grellock.Record, error) { return b.Get(ctx, name) }, nil, func(r grellock.Record) string {
			if r.Held() || r.Holder != "" || r.Fence != first.Fence {
				return "a released record must be free and keep its fence"
			}
			return ""
		}},
		{"re-acquire by a after release", func() (grellock.Record, error) { return b.Acquire(ctx, a) }, nil, func(r grellock.Record) string {
			again = r
			switch {
			case r.Fence <= first.Fence:
				return "the same token after a release is a new acquisition: it must get a greater fence"
			case r.Holder != "worker-a" || r.Token != "tok-a":
				return "holder and token must be a's"
			case r.AcquiredAt.Before(first.RenewedAt):
				return "a new acquisition must have a new acquisition time"
			case r.Transitions < first.Transitions+1:
				return "a release clears the holder: the next acquisition counts as a transition"
			}
			return ""
		}},
		{"release the re-acquisition", func() (grellock.Record, error) { return grellock.Record{}, b.Release(ctx, name, "tok-a") }, nil, nil},
		{"acquire b after release", func() (grellock.Record, error) { return b.Acquire(ctx, bReq) }, nil, func(r grellock.Record) string {
			if r.Fence <= again.Fence || r.Holder != "worker-b" {
				return "a new acquisition must get a greater fence"
			}
			if r.Transitions < again.Transitions+1 {
				return "a new holder must count as a transition"
			}
			if len(r.Metadata) != 0 {
				return "a new acquisition must not keep the previous holder's metadata"
			}
			return ""
		}},
	}
	for _, st := range steps {
		rec, err := st.do()
		if st.err == nil && err != nil {
			t.Fatalf("%s: unexpected error %v", st.what, err)
		}
		if st.err != nil && !errors.Is(err, st.err) {
			t.Fatalf("%s: error %v, want %v", st.what, err, st.err)
		}
		if st.check != nil {
			if msg := st.check(rec); msg != "" {
				t.Fatalf("%s: %s; got %+v", st.what, msg, rec)
			}
		}
	}
}

func testSameTokenReacquire(t *testing.T, s *suite) {
	b := s.newBackend(t)
	ctx := ctxT(t, 30*time.Second)
	name := s.lockName()
	req := grellock.Request{Name: name, Token: "tok-x", Holder: "worker-x", Lease: lease}
	r1, err := b.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease + 300*time.Millisecond)
	if rec, err := b.Get(ctx, name); err != nil || rec.Held() {
		t.Fatalf("Get after expiry = %+v, %v; want free", rec, err)
	}
	if _, err := b.Extend(ctx, req); !errors.Is(err, grellock.ErrNotHeld) {
		t.Fatalf("Extend after expiry: %v, want ErrNotHeld", err)
	}
	r2, err := b.Acquire(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Fence <= r1.Fence {
		t.Fatalf("re-acquire after expiry kept fence %d (was %d): it must be a new acquisition", r2.Fence, r1.Fence)
	}
	if r2.Transitions != r1.Transitions {
		t.Errorf("the same holder re-acquiring must not count as a transition: %d -> %d", r1.Transitions, r2.Transitions)
	}
}

func testMutualExclusion(t *testing.T, s *suite) {
	clients := []grellock.Backend{s.newBackend(t), s.newBackend(t)}
	locks := []*grellock.Lock{s.lock(clients[0], grellock.WithRetryInterval(100*time.Millisecond)), s.lock(clients[1], grellock.WithRetryInterval(100*time.Millisecond))}
	ctx := ctxT(t, 2*time.Minute)
	const goroutines = 50
	var inside atomic.Int32
	var mu sync.Mutex
	var fences []uint64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			l := locks[i%2]
			h, err := l.Acquire(ctx)
			if err != nil {
				errs <- fmt.Errorf("goroutine %d: Acquire: %w", i, err)
				return
			}
			if n := inside.Add(1); n != 1 {
				errs <- fmt.Errorf("goroutine %d: %d holders at once", i, n)
			}
			mu.Lock()
			fences = append(fences, h.Fence())
			mu.Unlock()
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			if err := h.Release(ctx); err != nil {
				errs <- fmt.Errorf("goroutine %d: Release: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(fences) != goroutines {
		t.Fatalf("%d holds, want %d", len(fences), goroutines)
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fences not strictly increasing in hold order: %v", fences)
		}
	}
}

func testExpiryTakeover(t *testing.T, s *suite) {
	la := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease), grellock.WithWorker("worker-a"))
	lb := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease), grellock.WithWorker("worker-b"))
	ctx := ctxT(t, 30*time.Second)
	ha, err := la.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lb.TryAcquire(ctx)
	var na *grellock.NotAcquiredError
	if !errors.As(err, &na) || na.Holder != "worker-a" {
		t.Fatalf("TryAcquire while held: %v, want a NotAcquiredError naming worker-a", err)
	}
	start := time.Now()
	hb, err := lb.AcquireWithin(ctx, lease+2*slack)
	if err != nil {
		t.Fatalf("takeover after expiry: %v", err)
	}
	if waited := time.Since(start); waited > lease+2*slack {
		t.Errorf("takeover took %v", waited)
	}
	if hb.Fence() <= ha.Fence() {
		t.Errorf("takeover fence %d not greater than %d", hb.Fence(), ha.Fence())
	}
	select {
	case <-ha.Done():
	case <-time.After(slack):
		t.Fatal("the expired hold's Done is not closed")
	}
	if !errors.Is(ha.Err(), grellock.ErrLost) || !errors.Is(context.Cause(ha.Context()), grellock.ErrLost) {
		t.Errorf("expired hold: Err %v, cause %v; want ErrLost", ha.Err(), context.Cause(ha.Context()))
	}
	if err := ha.Extend(ctx); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("Extend by the stale holder: %v, want ErrNotHeld", err)
	}
	if err := ha.Release(ctx); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("Release by the stale holder: %v, want ErrNotHeld", err)
	}
	if err := hb.Extend(ctx); err != nil {
		t.Errorf("the new holder's Extend after the stale holder's attempts: %v", err)
	}
	if rec, err := lb.Record(ctx); err != nil || rec.Holder != "worker-b" || rec.Fence != hb.Fence() {
		t.Errorf("record = %+v, %v; want worker-b with fence %d", rec, err, hb.Fence())
	}
	if err := hb.Release(ctx); err != nil {
		t.Errorf("Release by the new holder: %v", err)
	}
}

func testFencesIncrease(t *testing.T, s *suite) {
	la := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease))
	lb := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease))
	ctx := ctxT(t, 30*time.Second)
	var last uint64
	next := func(what string, h *grellock.Hold, err error) *grellock.Hold {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if h.Fence() <= last {
			t.Fatalf("%s: fence %d not greater than %d", what, h.Fence(), last)
		}
		last = h.Fence()
		return h
	}
	h, err := la.TryAcquire(ctx)
	h = next("first", h, err)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = la.TryAcquire(ctx)
	h = next("same client after release", h, err)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = lb.TryAcquire(ctx)
	expired := next("other client after release", h, err)
	// Takeover: that hold is left to expire.
	h, err = la.AcquireWithin(ctx, lease+2*slack)
	h = next("takeover after expiry", h, err)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = lb.TryAcquire(ctx)
	next("after the takeover's release", h, err)
	if expired.Held() {
		t.Error("the expired hold still counts as held")
	}
}

func testStaleHolderRefused(t *testing.T, s *suite) {
	l := s.lock(s.newBackend(t))
	b := s.newBackend(t)
	ctx := ctxT(t, 30*time.Second)
	h1, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	h2, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.Release(ctx); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("second Release of a released hold: %v, want ErrNotHeld", err)
	}
	if err := h1.Extend(ctx); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("Extend of a released hold: %v, want ErrNotHeld", err)
	}
	// The store refuses the stale token too, whatever the client.
	if err := b.Release(ctx, l.Name(), h1.Token()); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("store Release with a stale token: %v, want ErrNotHeld", err)
	}
	if _, err := b.Extend(ctx, grellock.Request{Name: l.Name(), Token: h1.Token(), Holder: h1.Holder(), Lease: lease}); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("store Extend with a stale token: %v, want ErrNotHeld", err)
	}
	if !h2.Held() {
		t.Fatalf("the current hold was disturbed: %v", h2.Err())
	}
	if err := h2.Release(ctx); err != nil {
		t.Errorf("Release of the current hold: %v", err)
	}
}

func testReentrancy(t *testing.T, s *suite) {
	b := s.newBackend(t)
	l := s.lock(b)
	l2, err := grellock.New(l.Name(), b, NoEnv())
	if err != nil {
		t.Fatal(err)
	}
	other, err := grellock.New(l.Name()+"-other", b, NoEnv())
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	h, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound, cancel := h.Bind(ctx)
	defer cancel()
	cases := []struct {
		what string
		do   func() error
	}{
		{"Acquire with the hold's context", func() error { _, err := l.Acquire(h.Context()); return err }},
		{"TryAcquire with the hold's context", func() error { _, err := l.TryAcquire(h.Context()); return err }},
		{"AcquireWithin with a bound context", func() error { _, err := l.AcquireWithin(bound, time.Minute); return err }},
		{"another Lock of the same name and store", func() error { _, err := l2.Acquire(bound); return err }},
	}
	for _, c := range cases {
		start := time.Now()
		if err := c.do(); !errors.Is(err, grellock.ErrReentrant) {
			t.Errorf("%s: %v, want ErrReentrant", c.what, err)
		}
		if d := time.Since(start); d > slack {
			t.Errorf("%s took %v: ErrReentrant must come at once", c.what, d)
		}
	}
	if got, ok := grellock.HoldFromContext(bound, l.Name()); !ok || got != h {
		t.Error("HoldFromContext does not find the hold")
	}
	oh, err := other.TryAcquire(bound)
	if err != nil {
		t.Fatalf("another lock name with a holding context: %v", err)
	}
	_ = oh.Release(ctx)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(bound), grellock.ErrReleased) {
		t.Errorf("bound context cause after release: %v, want ErrReleased", context.Cause(bound))
	}
}

func testCancelWhileWaiting(t *testing.T, s *suite) {
	la := s.lock(s.newBackend(t))
	lb := s.lock(s.newBackend(t), grellock.WithRetryInterval(100*time.Millisecond), grellock.WithWorker("worker-b"))
	ctx := ctxT(t, 30*time.Second)
	h, err := la.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Release(ctx) }()

	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := lb.Acquire(wctx)
		done <- err
	}()
	time.Sleep(250 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Acquire: %v, want context.Canceled", err)
		}
		if d := time.Since(cancelled); d > slack {
			t.Errorf("cancelled Acquire returned after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Acquire did not return")
	}

	dctx, dcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer dcancel()
	if _, err := lb.Acquire(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire past its context deadline: %v, want context.DeadlineExceeded", err)
	}

	start := time.Now()
	_, err = lb.AcquireWithin(ctx, 300*time.Millisecond)
	var na *grellock.NotAcquiredError
	if !errors.As(err, &na) {
		t.Fatalf("AcquireWithin while held: %v, want a NotAcquiredError", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 300*time.Millisecond+slack {
		t.Errorf("AcquireWithin(300ms) returned after %v", d)
	}
	if na.Holder != la.Worker() {
		t.Errorf("NotAcquiredError.Holder = %q, want %q", na.Holder, la.Worker())
	}
}

func testReleasedPickedUp(t *testing.T, s *suite) {
	const retry = 300 * time.Millisecond
	la := s.lock(s.newBackend(t))
	lb := s.lock(s.newBackend(t), grellock.WithRetryInterval(retry))
	ctx := ctxT(t, 30*time.Second)
	for i := range 3 {
		h, err := la.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan time.Time, 1)
		go func() {
			hb, err := lb.Acquire(ctx)
			if err != nil {
				t.Error(err)
				got <- time.Time{}
				return
			}
			at := time.Now()
			_ = hb.Release(ctx)
			got <- at
		}()
		time.Sleep(retry/2 + time.Duration(i)*retry/3)
		released := time.Now()
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
		at := <-got
		if d := at.Sub(released); d > retry+slack {
			t.Errorf("round %d: a released lock was picked up after %v, more than the retry interval %v", i, d, retry)
		}
	}
}

func testExtendAndAutoRenew(t *testing.T, s *suite) {
	l := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease))
	other := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease))
	auto := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true))
	ctx := ctxT(t, 30*time.Second)

	h, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		time.Sleep(lease / 3)
		before := h.Expiry()
		if err := h.Extend(ctx); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		if !h.Expiry().After(before) {
			t.Errorf("Extend did not push the expiry")
		}
	}
	if _, err := other.TryAcquire(ctx); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Fatalf("another client acquired an extended lock: %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}

	h, err = auto.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fence := h.Fence()
	time.Sleep(2 * lease)
	if !h.Held() {
		t.Fatalf("auto-renewed hold lost: %v", h.Err())
	}
	if _, err := other.TryAcquire(ctx); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Fatalf("another client acquired an auto-renewed lock: %v", err)
	}
	if rec, err := auto.Record(ctx); err != nil || rec.Fence != fence || rec.Token != h.Token() {
		t.Errorf("renewals must keep the fence: %+v, %v", rec, err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatalf("Release of an auto-renewed hold: %v", err)
	}
	if _, err := other.TryAcquire(ctx); err != nil {
		t.Errorf("acquire after the auto-renewed hold's release: %v", err)
	}
}

func testLossSignalled(t *testing.T, s *suite) {
	l := s.lock(s.newBackend(t), grellock.WithLeaseDuration(lease))
	ctx := ctxT(t, 30*time.Second)
	before := time.Now()
	h, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	margin := grellock.SafetyMargin(lease)
	if e := h.Expiry(); e.Before(before.Add(lease-margin)) || e.After(after.Add(lease-margin)) {
		t.Errorf("Expiry %v is not t0 + lease - margin (t0 in [%v, %v])", e, before, after)
	}
	select {
	case <-h.Done():
		at := time.Now()
		if at.Before(before.Add(lease - margin)) {
			t.Errorf("loss signalled %v before the deadline", before.Add(lease-margin).Sub(at))
		}
		if at.After(after.Add(lease - margin + slack)) {
			t.Errorf("loss signalled %v after the deadline", at.Sub(after.Add(lease-margin)))
		}
	case <-time.After(lease + 2*slack):
		t.Fatal("loss not signalled")
	}
	var lost *grellock.LostError
	if !errors.As(h.Err(), &lost) || lost.Fence != h.Fence() {
		t.Errorf("Err = %v, want a LostError with the fence", h.Err())
	}
}

func testTaskLock(t *testing.T, s *suite) {
	const minHold = 1500 * time.Millisecond
	newTask := func(b grellock.Backend) *grellock.TaskLock {
		tl, err := grellock.NewTaskLock(s.lockName(), b, NoEnv(), grellock.WithLeaseDuration(lease), grellock.WithMinHold(minHold))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tl.Close(context.Background()) })
		return tl
	}
	ta, tb := newTask(s.newBackend(t)), newTask(s.newBackend(t))
	ctx := ctxT(t, 30*time.Second)
	var runs atomic.Int32
	var fence uint64
	body := func(ctx context.Context) error {
		runs.Add(1)
		if h, ok := grellock.HoldFromContext(ctx, s.lockName()); ok {
			fence = h.Fence()
		}
		return nil
	}
	start := time.Now()
	if err := ta.Run(ctx, body); err != nil {
		t.Fatal(err)
	}
	if fence == 0 {
		t.Error("the body's context does not carry the hold")
	}
	if err := tb.Run(ctx, body); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Fatalf("second run within MinHold: %v, want ErrNotAcquired", err)
	}
	if err := ta.Run(ctx, body); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Fatalf("same replica within MinHold: %v, want ErrNotAcquired", err)
	}
	time.Sleep(time.Until(start.Add(minHold + slack)))
	if err := tb.Run(ctx, body); err != nil {
		t.Fatalf("run after MinHold: %v", err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}

	// A long body keeps the lock by refreshing; another replica cannot run.
	long := make(chan error, 1)
	time.Sleep(minHold + slack)
	started := make(chan struct{})
	go func() {
		long <- ta.Run(ctx, func(ctx context.Context) error {
			close(started)
			select {
			case <-time.After(2 * lease):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
	}()
	<-started
	time.Sleep(lease + slack)
	if err := tb.Run(ctx, body); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Errorf("run during a refreshed long run: %v, want ErrNotAcquired", err)
	}
	if err := <-long; err != nil {
		t.Errorf("long refreshed run: %v", err)
	}
}

func testLeaderElection(t *testing.T, s *suite) {
	type cand struct {
		e               *grellock.LeaderElection
		started, stoppd atomic.Int32
		leaders         chan string
		leadCtx         chan context.Context
	}
	meta := map[string]string{"addr": "10.0.0.7:9000"}
	mk := func(id string) *cand {
		c := &cand{leaders: make(chan string, 16), leadCtx: make(chan context.Context, 4)}
		e, err := grellock.NewLeaderElection(s.lockName(), s.newBackend(t), NoEnv(),
			grellock.WithWorker(id), grellock.WithMetadata(meta),
			grellock.WithLeaseDuration(2*lease), grellock.WithRenewDeadline(lease), grellock.WithRetryInterval(100*time.Millisecond),
			grellock.WithCallbacks(grellock.Callbacks{
				OnStartedLeading: func(ctx context.Context) {
					c.started.Add(1)
					c.leadCtx <- ctx
					<-ctx.Done()
				},
				OnStoppedLeading: func() { c.stoppd.Add(1) },
				OnNewLeader:      func(id string) { c.leaders <- id },
			}))
		if err != nil {
			t.Fatal(err)
		}
		c.e = e
		return c
	}
	a, b := mk("cand-a"), mk("cand-b")
	ctx := ctxT(t, 60*time.Second)
	if err := a.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.e.Stop(context.Background()) })
	if err := a.e.Start(ctx); !errors.Is(err, grellock.ErrRunning) {
		t.Errorf("second Start: %v, want ErrRunning", err)
	}
	var leadCtx context.Context
	select {
	case leadCtx = <-a.leadCtx:
	case <-time.After(2 * time.Second):
		t.Fatal("the only candidate did not lead")
	}
	if !a.e.IsLeader() {
		t.Error("IsLeader false while leading")
	}
	if err := b.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.e.Stop(context.Background()) })
	select {
	case id := <-b.leaders:
		if id != "cand-a" {
			t.Errorf("follower saw leader %q, want cand-a", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the follower did not report the leader")
	}
	time.Sleep(3 * lease) // several renewals: the leader keeps leading
	if !a.e.IsLeader() || b.e.IsLeader() {
		t.Fatalf("leaders after renewals: a=%v b=%v, want only a", a.e.IsLeader(), b.e.IsLeader())
	}
	rec := b.e.Record()
	if rec.Holder != "cand-a" || !maps.Equal(rec.Metadata, meta) || rec.Fence == 0 {
		t.Errorf("follower's record = %+v, want cand-a with its metadata", rec)
	}
	if got, err := b.e.Leader(ctx); err != nil || got.Holder != "cand-a" || got.RenewedAt.Before(got.AcquiredAt) {
		t.Errorf("Leader() = %+v, %v", got, err)
	}

	// RunWhileLeader runs on the leader and is cancelled when it steps down.
	fnDone := make(chan error, 1)
	go func() {
		fnDone <- a.e.RunWhileLeader(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			return context.Cause(ctx)
		})
	}()
	time.Sleep(100 * time.Millisecond)

	stopped := time.Now()
	if err := a.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if leadCtx.Err() == nil {
		t.Error("the leader's context is not cancelled after Stop")
	}
	select {
	case err := <-fnDone:
		if err == nil {
			t.Error("RunWhileLeader's function was not cancelled with a cause")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("RunWhileLeader's function still runs after Stop")
	}
	if a.started.Load() != 1 || a.stoppd.Load() != 1 {
		t.Errorf("leader callbacks: started %d, stopped %d; want 1, 1", a.started.Load(), a.stoppd.Load())
	}
	select {
	case <-b.leadCtx:
		if d := time.Since(stopped); d > 100*time.Millisecond+slack {
			t.Errorf("successor took over %v after the leader stopped; the lease must be released on stop", d)
		}
	case <-time.After(2 * lease):
		t.Fatal("no successor after the leader stopped")
	}
	if !b.e.IsLeader() {
		t.Error("successor's IsLeader is false")
	}
	if got, err := b.e.Leader(ctx); err != nil || got.Holder != "cand-b" || got.Transitions < 1 {
		t.Errorf("after failover Leader() = %+v, %v; want cand-b and a transition", got, err)
	}
	if err := b.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if b.stoppd.Load() != 1 {
		t.Errorf("successor OnStoppedLeading ran %d times, want 1", b.stoppd.Load())
	}

	// A candidate that never led never gets OnStoppedLeading (client-go
	// #1187), and a stopped election can campaign again.
	c := mk("cand-c")
	holder := s.lock(s.newBackend(t))
	h, err := holder.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := c.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.started.Load() != 0 || c.stoppd.Load() != 0 {
		t.Errorf("never-leading candidate: started %d, stopped %d; want 0, 0", c.started.Load(), c.stoppd.Load())
	}
	_ = h.Release(ctx)
	if err := c.e.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	select {
	case <-c.leadCtx:
	case <-time.After(2 * time.Second):
		t.Error("restarted candidate did not lead a free election")
	}
	if err := c.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
