package grellock_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

var noEnv = grellock.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))

// faulty wraps a backend to make Extend (and optionally Acquire) fail or
// hang, the way a store that is down or partitioned behaves.
type faulty struct {
	grellock.Backend
	mu      sync.Mutex
	err     error // returned by Extend when set
	hang    bool  // Extend and Acquire block until their context ends
	extends atomic.Int32
}

func (f *faulty) set(err error, hang bool) {
	f.mu.Lock()
	f.err, f.hang = err, hang
	f.mu.Unlock()
}

func (f *faulty) state() (hang bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hang, f.err
}

func (f *faulty) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	f.extends.Add(1)
	hang, err := f.state()
	if hang {
		<-ctx.Done()
		return grellock.Record{}, ctx.Err()
	}
	if err != nil {
		return grellock.Record{}, err
	}
	return f.Backend.Extend(ctx, req)
}

func (f *faulty) Release(ctx context.Context, name, token string) error {
	if hang, _ := f.state(); hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.Backend.Release(ctx, name, token)
}

func (f *faulty) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	if hang, _ := f.state(); hang {
		<-ctx.Done()
		return grellock.Record{}, ctx.Err()
	}
	return f.Backend.Acquire(ctx, req)
}

var errDown = errors.New("store down")

// The memory backend's rules, step by step on a fake clock (the model is
// x/time/rate's table of steps).
func TestMemorySteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := grellock.NewMemory()
		ctx := context.Background()
		start := time.Now()
		req := func(tok string, lease time.Duration) grellock.Request {
			return grellock.Request{Name: "job", Token: tok, Holder: "w-" + tok, Lease: lease}
		}
		type step struct {
			at     time.Duration
			op     string // acquire, extend, release, get
			token  string
			lease  time.Duration
			err    error
			fence  uint64
			holder string
			trans  int64
		}
		steps := []step{
			{at: 0, op: "get", fence: 0},
			{at: 0, op: "acquire", token: "a", lease: time.Second, fence: 1, holder: "w-a"},
			{at: 500 * time.Millisecond, op: "acquire", token: "b", lease: time.Second, err: grellock.ErrNotAcquired, fence: 1, holder: "w-a"},
			{at: 500 * time.Millisecond, op: "acquire", token: "a", lease: time.Second, fence: 1, holder: "w-a"}, // extension, expires at 1.5s
			{at: 1400 * time.Millisecond, op: "get", fence: 1, holder: "w-a"},
			{at: 1500 * time.Millisecond, op: "get", fence: 1}, // expired exactly at 1.5s
			{at: 1500 * time.Millisecond, op: "extend", token: "a", lease: time.Second, err: grellock.ErrNotHeld},
			{at: 1500 * time.Millisecond, op: "release", token: "a", err: grellock.ErrNotHeld},
			{at: 1500 * time.Millisecond, op: "acquire", token: "a", lease: time.Second, fence: 2, holder: "w-a"}, // same token after expiry: new fence, same holder: no transition
			{at: 2 * time.Second, op: "extend", token: "a", lease: 3 * time.Second, fence: 2, holder: "w-a"},      // until 5s
			{at: 4 * time.Second, op: "acquire", token: "b", lease: time.Second, err: grellock.ErrNotAcquired, fence: 2, holder: "w-a"},
			{at: 4 * time.Second, op: "release", token: "b", err: grellock.ErrNotHeld},
			{at: 4 * time.Second, op: "release", token: "a"},
			{at: 4 * time.Second, op: "get", fence: 2},
			{at: 4 * time.Second, op: "acquire", token: "b", lease: time.Second, fence: 3, holder: "w-b", trans: 1},
			{at: 6 * time.Second, op: "acquire", token: "c", lease: time.Second, fence: 4, holder: "w-c", trans: 2}, // takeover
		}
		for i, st := range steps {
			time.Sleep(time.Until(start.Add(st.at)))
			var rec grellock.Record
			var err error
			switch st.op {
			case "acquire":
				rec, err = m.Acquire(ctx, req(st.token, st.lease))
			case "extend":
				rec, err = m.Extend(ctx, req(st.token, st.lease))
			case "release":
				err = m.Release(ctx, "job", st.token)
			case "get":
				rec, err = m.Get(ctx, "job")
			}
			if !errors.Is(err, st.err) || (st.err == nil && err != nil) {
				t.Fatalf("step %d (%s %s at %v): error %v, want %v", i, st.op, st.token, st.at, err, st.err)
			}
			if st.op == "release" || st.op == "extend" && st.err != nil {
				continue
			}
			if rec.Fence != st.fence || rec.Holder != st.holder || (st.err == nil && rec.Transitions != st.trans) {
				t.Fatalf("step %d (%s %s at %v): fence %d holder %q transitions %d, want %d %q %d",
					i, st.op, st.token, st.at, rec.Fence, rec.Holder, rec.Transitions, st.fence, st.holder, st.trans)
			}
		}
	})
}

// Loss is signalled at t0 + lease - margin to the nanosecond, with no
// renewal, and an extension moves that deadline.
func TestLossDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 10 * time.Second
		l, err := grellock.New("job", grellock.NewMemory(), noEnv, grellock.WithLeaseDuration(lease))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		t0 := time.Now()
		h, err := l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := t0.Add(lease - grellock.SafetyMargin(lease))
		if !h.Expiry().Equal(want) {
			t.Fatalf("Expiry = %v, want %v", h.Expiry(), want)
		}
		time.Sleep(4 * time.Second)
		t1 := time.Now()
		if err := h.Extend(ctx); err != nil {
			t.Fatal(err)
		}
		want = t1.Add(lease - grellock.SafetyMargin(lease))
		<-h.Done()
		if !time.Now().Equal(want) {
			t.Fatalf("loss signalled at +%v, want +%v", time.Since(t0), want.Sub(t0))
		}
		if !errors.Is(context.Cause(h.Context()), grellock.ErrLost) {
			t.Errorf("cause %v, want ErrLost", context.Cause(h.Context()))
		}
	})
}

// A store that hangs cannot delay the loss signal: the renewal's own
// deadline is the loss deadline.
func TestLossSignalledWhileStoreHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 3 * time.Second
		f := &faulty{Backend: grellock.NewMemory()}
		l, err := grellock.New("job", f, noEnv, grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		h, err := l.TryAcquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		f.set(nil, true)
		<-h.Done()
		if got, want := time.Since(t0), lease-grellock.SafetyMargin(lease); got != want {
			t.Fatalf("loss signalled after %v, want %v", got, want)
		}
		var lost *grellock.LostError
		if !errors.As(h.Err(), &lost) {
			t.Fatalf("Err = %v, want a LostError", h.Err())
		}
		// Extend on the lost hold is refused at once, with no round trip.
		before := f.extends.Load()
		if err := h.Extend(context.Background()); !errors.Is(err, grellock.ErrNotHeld) {
			t.Errorf("Extend after loss: %v", err)
		}
		if f.extends.Load() != before {
			t.Error("Extend of a lost hold went to the store")
		}
		f.set(nil, false)
		if err := h.Release(context.Background()); err != nil {
			t.Errorf("Release of a lost hold the store still kept: %v", err)
		}
	})
}

// Automatic renewal: every lease/3 while the store answers; a refused
// renewal (the store gave the lock away) ends the hold at once; a store
// error leaves it until the deadline.
func TestAutoRenew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 9 * time.Second
		f := &faulty{Backend: grellock.NewMemory()}
		l, err := grellock.New("job", f, noEnv, grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		h, err := l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*lease + time.Millisecond)
		if !h.Held() {
			t.Fatalf("lost while renewing: %v", h.Err())
		}
		if n := f.extends.Load(); n != 30 {
			t.Errorf("%d renewals in 10 leases, want 30 (every lease/3)", n)
		}
		// Errors: retried every lease/10 until the deadline.
		f.set(errDown, false)
		lastOK := time.Now().Add(-time.Millisecond) // the last renewal was at 30 x lease/3
		<-h.Done()
		if got, want := time.Since(lastOK), lease-grellock.SafetyMargin(lease); got != want {
			t.Errorf("lost %v after the last renewal, want %v", got, want)
		}
		var lost *grellock.LostError
		if !errors.As(h.Err(), &lost) || lost.Cause != nil {
			t.Errorf("Err = %v, want a LostError for a lease not renewed in time", h.Err())
		}
		_ = h.Release(ctx)

		// Refusal: lost at the first refused renewal.
		f.set(nil, false)
		h, err = l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.set(grellock.ErrNotHeld, false)
		t0 := time.Now()
		<-h.Done()
		if got := time.Since(t0); got != lease/3 {
			t.Errorf("refused renewal lost the hold after %v, want %v", got, lease/3)
		}
		if !errors.Is(h.Err(), grellock.ErrNotHeld) || !errors.Is(h.Err(), grellock.ErrLost) {
			t.Errorf("Err = %v", h.Err())
		}
		f.set(nil, false)
		_ = h.Release(ctx)
		synctest.Wait()
	})
}

// A waiter polls every RetryInterval (no jitter here) and picks a released
// lock up at its next attempt; AcquireWithin gives up after exactly d.
func TestWaitTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := grellock.NewMemory()
		newLock := func() *grellock.Lock {
			l, err := grellock.New("job", m, noEnv, grellock.WithRetryInterval(100*time.Millisecond), grellock.WithJitter(0))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		a, b := newLock(), newLock()
		ctx := context.Background()
		h, err := a.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := b.AcquireWithin(ctx, 250*time.Millisecond); !errors.Is(err, grellock.ErrNotAcquired) {
			t.Fatalf("AcquireWithin: %v", err)
		}
		if d := time.Since(start); d != 250*time.Millisecond {
			t.Errorf("AcquireWithin(250ms) returned after %v", d)
		}

		got := make(chan time.Time)
		go func() {
			hb, err := b.Acquire(ctx)
			if err != nil {
				t.Error(err)
			}
			got <- time.Now()
			_ = hb.Release(ctx)
		}()
		time.Sleep(1050 * time.Millisecond) // between two polls
		released := time.Now()
		_ = h.Release(ctx)
		if d := (<-got).Sub(released); d != 50*time.Millisecond {
			t.Errorf("picked up %v after the release, want at the next poll (50ms)", d)
		}

		// Cancellation while waiting returns at once with ctx's error.
		h, _ = a.TryAcquire(ctx)
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() {
			_, err := b.Acquire(wctx)
			done <- err
		}()
		time.Sleep(333 * time.Millisecond)
		at := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || time.Since(at) != 0 {
			t.Errorf("cancelled Acquire: %v after %v", err, time.Since(at))
		}
		_ = h.Release(ctx)
	})
}

// Jitter only shortens the wait: never more than RetryInterval between two
// attempts, and not always the same wait.
func TestJitterShortensWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingBackend{Backend: grellock.NewMemory()}
		holder, _ := grellock.New("job", rec.Backend, noEnv)
		h, _ := holder.TryAcquire(context.Background())
		l, err := grellock.New("job", rec, noEnv, grellock.WithRetryInterval(time.Second), grellock.WithJitter(0.5))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = l.AcquireWithin(context.Background(), 30*time.Second)
		_ = h.Release(context.Background())
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(rec.at); i++ {
			d := rec.at[i].Sub(rec.at[i-1])
			if d > time.Second || d < 500*time.Millisecond {
				t.Fatalf("wait %v outside [RetryInterval x (1-Jitter), RetryInterval]", d)
			}
			distinct[d] = true
		}
		if len(rec.at) < 30 || len(distinct) < 5 {
			t.Errorf("%d attempts with %d distinct waits: jitter is not applied", len(rec.at), len(distinct))
		}
	})
}

type recordingBackend struct {
	grellock.Backend
	at []time.Time
}

func (r *recordingBackend) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	r.at = append(r.at, time.Now())
	return r.Backend.Acquire(ctx, req)
}

// The task lock holds for MinHold from the start of a fast run: the store
// keeps it until start+MinHold, then any replica may run.
func TestTaskLockMinHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := grellock.NewMemory()
		newTask := func(opts ...grellock.Option) *grellock.TaskLock {
			tl, err := grellock.NewTaskLock("report", m, append([]grellock.Option{noEnv, grellock.WithLeaseDuration(time.Minute), grellock.WithMinHold(10 * time.Second)}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			return tl
		}
		a, b := newTask(), newTask()
		ctx := context.Background()
		start := time.Now()
		runs := 0
		body := func(ctx context.Context) error { runs++; time.Sleep(2 * time.Second); return nil }
		if err := a.Run(ctx, body); err != nil {
			t.Fatal(err)
		}
		rec, _ := m.Get(ctx, "report")
		if !rec.ExpiresAt.Equal(start.Add(10 * time.Second)) {
			t.Errorf("after a fast run the lock expires at +%v, want +10s", rec.ExpiresAt.Sub(start))
		}
		time.Sleep(time.Until(start.Add(10*time.Second - time.Nanosecond)))
		if err := b.Run(ctx, body); !errors.Is(err, grellock.ErrNotAcquired) {
			t.Errorf("run 1ns before MinHold: %v, want ErrNotAcquired", err)
		}
		time.Sleep(time.Nanosecond)
		if err := b.Run(ctx, body); err != nil {
			t.Errorf("run at MinHold: %v", err)
		}
		if runs != 2 {
			t.Errorf("%d runs, want 2", runs)
		}

		// A body longer than MinHold releases at its end.
		time.Sleep(time.Minute)
		long := func(ctx context.Context) error { time.Sleep(15 * time.Second); return nil }
		if err := a.Run(ctx, long); err != nil {
			t.Fatal(err)
		}
		if rec, _ := m.Get(ctx, "report"); rec.Held() {
			t.Errorf("a run longer than MinHold must release: %+v", rec)
		}

		// Without Refresh a body longer than the lease is cancelled at the
		// loss deadline and Run reports the loss.
		c := newTask(grellock.WithRefresh(false), grellock.WithMinHold(0), grellock.WithLeaseDuration(5*time.Second))
		t0 := time.Now()
		err := c.Run(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			if d := time.Since(t0); d != 5*time.Second-grellock.SafetyMargin(5*time.Second) {
				t.Errorf("body cancelled after %v", d)
			}
			return ctx.Err()
		})
		if !errors.Is(err, grellock.ErrLost) || !errors.Is(err, context.Canceled) {
			t.Errorf("Run after loss: %v, want ErrLost joined with the body's error", err)
		}
		// With Refresh it keeps the lock through a long body.
		d := newTask(grellock.WithMinHold(0), grellock.WithLeaseDuration(5*time.Second))
		if err := d.Run(ctx, func(ctx context.Context) error {
			time.Sleep(time.Minute)
			return ctx.Err()
		}); err != nil {
			t.Errorf("refreshed long run: %v", err)
		}
	})
}

// The election's timings: the leader renews every RetryInterval, steps down
// RenewDeadline after its last successful renewal when the store stops
// answering, and a follower takes over once the lease has expired in the
// store, within one RetryInterval.
func TestElectionTimings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := grellock.NewMemory()
		fa := &faulty{Backend: m}
		type events struct {
			mu               sync.Mutex
			started, stopped []time.Duration
			leaders          []string
		}
		start := time.Now()
		mk := func(id string, b grellock.Backend, ev *events) *grellock.LeaderElection {
			e, err := grellock.NewLeaderElection("leader", b, noEnv, grellock.WithWorker(id), grellock.WithJitter(0),
				grellock.WithLeaseDuration(15*time.Second), grellock.WithRenewDeadline(10*time.Second), grellock.WithRetryInterval(2*time.Second),
				grellock.WithCallbacks(grellock.Callbacks{
					OnStartedLeading: func(ctx context.Context) {
						ev.mu.Lock()
						ev.started = append(ev.started, time.Since(start))
						ev.mu.Unlock()
						<-ctx.Done()
					},
					OnStoppedLeading: func() {
						ev.mu.Lock()
						ev.stopped = append(ev.stopped, time.Since(start))
						ev.mu.Unlock()
					},
					OnNewLeader: func(id string) {
						ev.mu.Lock()
						ev.leaders = append(ev.leaders, id)
						ev.mu.Unlock()
					},
				}))
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		var ea, eb events
		a := mk("a", fa, &ea)
		b := mk("b", m, &eb)
		ctx := context.Background()
		_ = a.Start(ctx)
		synctest.Wait()
		_ = b.Start(ctx)
		time.Sleep(20*time.Second + time.Millisecond)
		if !a.IsLeader() || b.IsLeader() {
			t.Fatal("a must lead")
		}
		if n := fa.extends.Load(); n != 10 {
			t.Errorf("%d renewals in 20s, want 10 (every RetryInterval)", n)
		}
		// The store stops answering a at +20s; a's last renewal was at +20s.
		fa.set(nil, true)
		time.Sleep(40*time.Second - time.Millisecond)
		// At +60s the store answers a again and b steps down (releasing the
		// lease): a, still campaigning after its loss, leads again.
		fa.set(nil, false)
		_ = b.Stop(ctx)
		time.Sleep(15 * time.Second)
		if !a.IsLeader() {
			t.Error("a did not lead again: it must keep campaigning after a loss")
		}
		_ = a.Stop(ctx)
		ea.mu.Lock()
		defer ea.mu.Unlock()
		eb.mu.Lock()
		defer eb.mu.Unlock()
		if len(ea.started) != 2 || ea.started[0] != 0 || ea.started[1] < 60*time.Second {
			t.Errorf("a started leading at %v, want [0s, after 60s]", ea.started)
		}
		if len(ea.stopped) != 2 {
			t.Errorf("a stopped leading %d times, want 2 (the loss, then Stop)", len(ea.stopped))
		}
		if len(ea.stopped) < 1 || ea.stopped[0] != 30*time.Second {
			t.Errorf("a stopped leading at %v, want 30s first (last renewal 20s + RenewDeadline 10s)", ea.stopped)
		}
		// The lease was renewed at +20s for 15s: b's polls run at +2s, +4s,
		// ..., so it takes over at +36s.
		if len(eb.started) != 1 || eb.started[0] != 36*time.Second {
			t.Errorf("b started leading at %v, want [36s]", eb.started)
		}
		if len(eb.stopped) != 1 || eb.stopped[0] != 60*time.Second {
			t.Errorf("b stopped leading at %v, want once at Stop (60s)", eb.stopped)
		}
		if len(eb.leaders) != 2 || eb.leaders[0] != "a" || eb.leaders[1] != "b" {
			t.Errorf("b saw leaders %v, want [a b]", eb.leaders)
		}
	})
}

// Reconfigure takes effect at the next operation and refuses an identity
// change.
func TestReconfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := grellock.NewMemory()
		l, err := grellock.New("job", m, noEnv, grellock.WithWorker("w1"), grellock.WithLeaseDuration(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		cfg := l.Config()
		cfg.LeaseDuration = 5 * time.Second
		if err := l.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		h, _ := l.TryAcquire(context.Background())
		if rec, _ := m.Get(context.Background(), "job"); rec.Lease != 5*time.Second {
			t.Errorf("lease after Reconfigure = %v, want 5s", rec.Lease)
		}
		_ = h.Release(context.Background())
		cfg.Worker = "w2"
		if err := l.Reconfigure(cfg); err == nil {
			t.Error("Reconfigure changed the worker identity")
		}
		cfg.Worker = ""
		cfg.LeaseDuration = 0
		if err := l.Reconfigure(cfg); !errors.Is(err, grelconfig.ErrInvalid) {
			t.Errorf("Reconfigure with a zero lease: %v, want grelconfig.ErrInvalid", err)
		}
		if l.Config().LeaseDuration != 5*time.Second || l.Worker() != "w1" {
			t.Errorf("a refused Reconfigure changed the config: %+v", l.Config())
		}
	})
}

// appliedThenFailed applies every Extend and then reports an error, as a
// store whose answer is lost does.
type appliedThenFailed struct{ grellock.Backend }

func (a *appliedThenFailed) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	_, _ = a.Backend.Extend(ctx, req)
	return grellock.Record{}, errDown
}

// A renewal with a shorter lease (after Reconfigure) moves the loss
// deadline earlier, to its own t0 + lease - margin: the hold must not
// outlive the lease the store now keeps, or two holders (two leaders) would
// overlap.
func TestShortenedLeaseMovesDeadlineEarlier(t *testing.T) {
	ctx := context.Background()
	t.Run("Lock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := grellock.NewMemory()
			a, err := grellock.New("job", m, noEnv, grellock.WithLeaseDuration(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := grellock.New("job", m, noEnv, grellock.WithLeaseDuration(time.Minute))
			ha, err := a.TryAcquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done := ha.Done()
			time.Sleep(time.Second)
			cfg := a.Config()
			cfg.LeaseDuration = 5 * time.Second
			if err := a.Reconfigure(cfg); err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			if err := ha.Extend(ctx); err != nil {
				t.Fatal(err)
			}
			want := t1.Add(5*time.Second - grellock.SafetyMargin(5*time.Second))
			if !ha.Expiry().Equal(want) {
				t.Errorf("Expiry after a shorter renewal = +%v, want +%v", ha.Expiry().Sub(t1), want.Sub(t1))
			}
			time.Sleep(10 * time.Second)
			hb, err := b.TryAcquire(ctx)
			if err != nil {
				t.Fatalf("B after the store's 5s lease ended: %v", err)
			}
			if hb.Fence() != 2 {
				t.Errorf("B's fence %d, want 2", hb.Fence())
			}
			if ha.Held() {
				t.Fatal("A still holds while B holds with a newer fence")
			}
			select {
			case <-done:
			default:
				t.Fatal("A's Done not closed while B holds")
			}
			_ = hb.Release(ctx)
		})
	})
	t.Run("FailedExtend", func(t *testing.T) {
		// An extension whose answer was lost may have reached the store:
		// its shorter lease moves the deadline too.
		synctest.Test(t, func(t *testing.T) {
			b := &appliedThenFailed{Backend: grellock.NewMemory()}
			l, err := grellock.New("job", b, noEnv, grellock.WithLeaseDuration(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			h, err := l.TryAcquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cfg := l.Config()
			cfg.LeaseDuration = 5 * time.Second
			_ = l.Reconfigure(cfg)
			t1 := time.Now()
			if err := h.Extend(ctx); !errors.Is(err, errDown) {
				t.Fatalf("Extend = %v, want the store's error", err)
			}
			if want := t1.Add(5*time.Second - grellock.SafetyMargin(5*time.Second)); !h.Expiry().Equal(want) {
				t.Errorf("Expiry after a failed shorter renewal = +%v, want +%v", h.Expiry().Sub(t1), want.Sub(t1))
			}
			// A failed renewal with the same lease leaves the deadline.
			cfg.LeaseDuration = time.Minute
			_ = l.Reconfigure(cfg)
			before := h.Expiry()
			_ = h.Extend(ctx)
			if !h.Expiry().Equal(before) {
				t.Errorf("a failed longer renewal moved the deadline by %v", h.Expiry().Sub(before))
			}
			_ = h.Release(ctx)
		})
	})
	t.Run("Serialised", func(t *testing.T) {
		// Two extensions of one hold never overlap, so the store applies
		// them in the order they started; a waiting one honours its ctx.
		synctest.Test(t, func(t *testing.T) {
			f := &faulty{Backend: grellock.NewMemory()}
			l, err := grellock.New("job", f, noEnv, grellock.WithLeaseDuration(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			h, err := l.TryAcquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.set(nil, true)
			c1, cancel1 := context.WithCancel(ctx)
			c2, cancel2 := context.WithCancel(ctx)
			c3, cancel3 := context.WithCancel(ctx)
			errs := make(chan error, 3)
			for _, c := range []context.Context{c1, c2, c3} {
				go func() { errs <- h.Extend(c) }()
				synctest.Wait()
			}
			if n := f.extends.Load(); n != 1 {
				t.Fatalf("%d extensions in the store at once, want 1", n)
			}
			cancel3() // waiting: returns at once, never reaches the store
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("waiting Extend after cancel: %v", err)
			}
			cancel1()
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("first Extend after cancel: %v", err)
			}
			synctest.Wait()
			if n := f.extends.Load(); n != 2 {
				t.Errorf("%d extensions reached the store after the first ended, want 2", n)
			}
			cancel2()
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("second Extend after cancel: %v", err)
			}
			f.set(nil, false)
			if err := h.Extend(ctx); err != nil {
				t.Errorf("Extend after the others: %v", err)
			}
			_ = h.Release(ctx)
		})
	})
	t.Run("TaskLock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := grellock.NewMemory()
			f := &faulty{Backend: m}
			a, err := grellock.NewTaskLock("report", f, noEnv, grellock.WithLeaseDuration(time.Minute), grellock.WithMinHold(0))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := grellock.NewTaskLock("report", m, noEnv, grellock.WithLeaseDuration(time.Minute), grellock.WithMinHold(0))
			start := time.Now()
			cancelledAt := make(chan time.Duration, 1)
			err = a.Run(ctx, func(ctx context.Context) error {
				context.AfterFunc(ctx, func() { cancelledAt <- time.Since(start) })
				time.Sleep(time.Second) // the first renewal is due at +20s
				cfg := a.Config()
				cfg.LeaseDuration = 5 * time.Second
				if err := a.Reconfigure(cfg); err != nil {
					t.Error(err)
				}
				// The renewal at +20s (old lease/3) asks for 5s; the store
				// fails every renewal after it, so it frees the lock at +25s.
				time.Sleep(19*time.Second + time.Millisecond)
				f.set(errDown, false)
				time.Sleep(5 * time.Second)
				if err := b.Run(context.Background(), func(context.Context) error {
					if ctx.Err() == nil {
						t.Error("A's run goes on while B runs")
					}
					return nil
				}); err != nil {
					t.Errorf("B after the store's 5s lease ended: %v", err)
				}
				<-ctx.Done()
				return nil
			})
			if !errors.Is(err, grellock.ErrLost) {
				t.Errorf("Run = %v, want ErrLost", err)
			}
			if got, want := <-cancelledAt, 25*time.Second-grellock.SafetyMargin(5*time.Second); got != want {
				t.Errorf("A's run cancelled at +%v, want +%v", got, want)
			}
		})
	})
	t.Run("LeaderElection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := grellock.NewMemory()
			f := &faulty{Backend: m}
			var mu sync.Mutex
			var log []string
			start := time.Now()
			mk := func(id string, b grellock.Backend, lease, renew, retry time.Duration) *grellock.LeaderElection {
				e, err := grellock.NewLeaderElection("leader", b, noEnv, grellock.WithWorker(id), grellock.WithJitter(0),
					grellock.WithLeaseDuration(lease), grellock.WithRenewDeadline(renew), grellock.WithRetryInterval(retry),
					grellock.WithCallbacks(grellock.Callbacks{
						OnStartedLeading: func(ctx context.Context) {
							mu.Lock()
							log = append(log, id+" started "+time.Since(start).String())
							mu.Unlock()
							<-ctx.Done()
						},
						OnStoppedLeading: func() {
							mu.Lock()
							log = append(log, id+" stopped "+time.Since(start).String())
							mu.Unlock()
						},
					}))
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			a := mk("a", f, time.Minute, 40*time.Second, 2*time.Second)
			b := mk("b", m, 6*time.Second, 4*time.Second, time.Second)
			_ = a.Start(ctx)
			synctest.Wait()
			_ = b.Start(ctx)
			time.Sleep(time.Second)
			cfg := a.Config()
			cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryInterval = 6*time.Second, 4*time.Second, time.Second
			if err := a.Reconfigure(cfg); err != nil {
				t.Fatal(err)
			}
			// The renewal at +2s asks for 6s and steps down at +6s without
			// another; the store stops answering a after it.
			time.Sleep(time.Second + time.Millisecond)
			f.set(nil, true)
			for range 20 {
				time.Sleep(500 * time.Millisecond)
				if a.IsLeader() && b.IsLeader() {
					t.Errorf("two leaders at +%v", time.Since(start))
					break
				}
			}
			if !b.IsLeader() {
				t.Error("b does not lead after a's 6s lease ended in the store")
			}
			f.set(nil, false)
			_ = a.Stop(ctx)
			_ = b.Stop(ctx)
			mu.Lock()
			defer mu.Unlock()
			want := []string{"a started 0s", "a stopped 6s", "b started 8s", "b stopped 12.001s"}
			if !slices.Equal(log, want) {
				t.Errorf("terms %v, want %v", log, want)
			}
		})
	})
}

// renamingBackend answers renewals with another holder name, so that a
// renewal sees the leader "change".
type renamingBackend struct{ grellock.Backend }

func (r renamingBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	rec, err := r.Backend.Extend(ctx, req)
	rec.Holder += "-renewed"
	return rec, err
}

// OnNewLeader and OnStoppedLeading run on the campaign goroutine, never on
// the renewal goroutine, even when a renewal reports another holder.
func TestElectionCallbacksOnCampaignGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		where := func(cb string) {
			buf := make([]byte, 64<<10)
			st := string(buf[:runtime.Stack(buf, false)])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case strings.Contains(st, "(*Hold).keepAlive"):
				calls = append(calls, cb+" on the renewal goroutine")
			case strings.Contains(st, "(*LeaderElection).campaign"):
				calls = append(calls, cb)
			default:
				calls = append(calls, cb+" elsewhere")
			}
		}
		e, err := grellock.NewLeaderElection("leader", renamingBackend{grellock.NewMemory()}, noEnv, grellock.WithWorker("a"), grellock.WithJitter(0),
			grellock.WithCallbacks(grellock.Callbacks{
				OnStartedLeading: func(ctx context.Context) { <-ctx.Done() },
				OnStoppedLeading: func() { where("stopped") },
				OnNewLeader:      func(id string) { where("leader " + id) },
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = e.Start(ctx)
		time.Sleep(10 * time.Second) // five renewals
		if got := e.Record().Holder; got != "a-renewed" {
			t.Errorf("Record().Holder = %q, want the last renewal's", got)
		}
		_ = e.Stop(ctx)
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"leader a", "stopped"}; !slices.Equal(calls, want) {
			t.Errorf("callbacks %q, want %q", calls, want)
		}
	})
}

// A Stop whose ctx ends first returns ctx's error and leaves the campaign
// findable: another Stop waits for it again, Start refuses, and once it
// has ended Stop returns nil and Start starts a new one.
func TestElectionStopOutlivedByTheCampaign(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var stopped atomic.Int32
		e, err := grellock.NewLeaderElection("leader", grellock.NewMemory(), noEnv, grellock.WithJitter(0),
			grellock.WithCallbacks(grellock.Callbacks{
				OnStartedLeading: func(ctx context.Context) {
					<-ctx.Done()
					<-release // slow to step down
				},
				OnStoppedLeading: func() { stopped.Add(1) },
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for i := range 2 {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			err := e.Stop(sctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Stop %d while the campaign runs: %v, want DeadlineExceeded", i+1, err)
			}
			if err := e.Start(ctx); !errors.Is(err, grellock.ErrRunning) {
				t.Fatalf("Start while the campaign still runs: %v, want ErrRunning", err)
			}
		}
		close(release)
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop once OnStartedLeading returns: %v", err)
		}
		if stopped.Load() != 1 || e.IsLeader() {
			t.Fatalf("after Stop: %d OnStoppedLeading, leader %v", stopped.Load(), e.IsLeader())
		}
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop of a stopped election: %v", err)
		}
		if err := e.Start(ctx); err != nil {
			t.Fatalf("Start after the campaign ended: %v", err)
		}
		synctest.Wait()
		if !e.IsLeader() {
			t.Error("the new campaign does not lead")
		}
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
