package grellock_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/fx"
)

// downOnAcquire is a store whose Acquire fails while down is set.
type downOnAcquire struct {
	*faulty
	down bool
}

func (d *downOnAcquire) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	if d.down {
		return grellock.Record{}, errDown
	}
	return d.faulty.Acquire(ctx, req)
}

// faulty has no Kind: its holds say grel.backend "custom".
var cartAttrs = []attribute.KeyValue{attribute.String("grel.name", "cart"), attribute.String("grel.backend", "custom")}

func outcome(o string) []attribute.KeyValue {
	return append(append([]attribute.KeyValue{}, cartAttrs...), attribute.String("outcome", o))
}

// lockCounts are a Lock's metrics at one moment.
type lockCounts struct {
	acquired, notAcquired, failed, reentrant int64
	waited                                   time.Duration // the sum of acquire_wait
	held, lost, storeErrors, notHeld         int64
}

func readLock(t *testing.T, r *metrictest.Reader) lockCounts {
	t.Helper()
	c := lockCounts{
		acquired:    r.Int(grellock.MetricAcquisitions, outcome("acquired")...),
		notAcquired: r.Int(grellock.MetricAcquisitions, outcome("not_acquired")...),
		failed:      r.Int(grellock.MetricAcquisitions, outcome("error")...),
		reentrant:   r.Int(grellock.MetricAcquisitions, outcome("reentrant")...),
		held:        r.Int(grellock.MetricHeld, cartAttrs...),
		lost:        r.Int(grellock.MetricHoldsLost, cartAttrs...),
		storeErrors: r.Int(grellock.MetricRenewFailures("lock"), attribute.String("reason", "store_error")),
		notHeld:     r.Int(grellock.MetricRenewFailures("lock"), attribute.String("reason", "not_held")),
	}
	n, sum := r.Count(grellock.MetricAcquireWait, cartAttrs...)
	if total := c.acquired + c.notAcquired + c.failed + c.reentrant; int64(n) != total {
		t.Fatalf("%d acquire_wait measurements for %d acquisitions", n, total)
	}
	c.waited = time.Duration(sum * float64(time.Second)).Round(time.Millisecond)
	return c
}

// TestLockMetrics runs a Lock through each outcome, step by step on a fake
// clock, and checks its metrics after each step (cumulative).
func TestLockMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 9 * time.Second
		reader := metrictest.New(t)
		f := &downOnAcquire{faulty: &faulty{Backend: grellock.NewMemory()}}
		l, err := grellock.New("cart", f, noEnv, grellock.WithMeterProvider(reader.Provider),
			grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true), grellock.WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		other, err := grellock.New("cart", f, noEnv) // another process, without metrics
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var h, theirs *grellock.Hold
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name string
			do   func()
			want lockCounts
		}{
			{name: "nothing yet: the gauge is there", do: func() {}, want: lockCounts{}},
			{name: "TryAcquire", do: func() { h, err = l.TryAcquire(ctx); must(err) },
				want: lockCounts{acquired: 1, held: 1}},
			{name: "the same context again", do: func() {
				if _, err := l.Acquire(h.Context()); !errors.Is(err, grellock.ErrReentrant) {
					t.Fatalf("err %v", err)
				}
			}, want: lockCounts{acquired: 1, reentrant: 1, held: 1}},
			{name: "a second hold of this process", do: func() {
				if _, err := l.TryAcquire(ctx); !errors.Is(err, grellock.ErrNotAcquired) {
					t.Fatalf("err %v", err)
				}
			}, want: lockCounts{acquired: 1, notAcquired: 1, reentrant: 1, held: 1}},
			{name: "AcquireWithin gives up after 2s", do: func() {
				if _, err := l.AcquireWithin(ctx, 2*time.Second); !errors.Is(err, grellock.ErrNotAcquired) {
					t.Fatalf("err %v", err)
				}
			}, want: lockCounts{acquired: 1, notAcquired: 2, reentrant: 1, held: 1, waited: 2 * time.Second}},
			{name: "Release", do: func() { must(h.Release(ctx)) },
				want: lockCounts{acquired: 1, notAcquired: 2, reentrant: 1, waited: 2 * time.Second}},
			{name: "Acquire waits 1s for another holder", do: func() {
				theirs, err = other.TryAcquire(ctx)
				must(err)
				// Released between two polls (every RetryInterval, 100ms): taken at the 10th.
				time.AfterFunc(950*time.Millisecond, func() { _ = theirs.Release(ctx) })
				h, err = l.Acquire(ctx)
				must(err)
			}, want: lockCounts{acquired: 2, notAcquired: 2, reentrant: 1, held: 1, waited: 3 * time.Second}},
			{name: "the store refuses a renewal: lost", do: func() {
				f.set(grellock.ErrNotHeld, false)
				<-h.Done()
				f.set(nil, false)
			}, want: lockCounts{acquired: 2, notAcquired: 2, reentrant: 1, lost: 1, notHeld: 1, waited: 3 * time.Second}},
			{name: "Release of a lost hold", do: func() { _ = h.Release(ctx) },
				want: lockCounts{acquired: 2, notAcquired: 2, reentrant: 1, lost: 1, notHeld: 1, waited: 3 * time.Second}},
			{name: "the store is down", do: func() {
				f.down = true
				if _, err := l.TryAcquire(ctx); !errors.Is(err, errDown) {
					t.Fatalf("err %v", err)
				}
				f.down = false
			}, want: lockCounts{acquired: 2, notAcquired: 2, failed: 1, reentrant: 1, lost: 1, notHeld: 1, waited: 3 * time.Second}},
			{name: "renewals fail until the deadline: lost", do: func() {
				h, err = l.TryAcquire(ctx)
				must(err)
				f.extends.Store(0)
				f.set(errDown, false)
				<-h.Done()
				f.set(nil, false)
				_ = h.Release(ctx)
			}, want: lockCounts{acquired: 3, notAcquired: 2, failed: 1, reentrant: 1, lost: 2, notHeld: 1, waited: 3 * time.Second}},
		}
		var extends int64
		for i, s := range steps {
			s.do()
			synctest.Wait()
			if i == len(steps)-1 {
				extends = int64(f.extends.Load())
				if extends < 2 {
					t.Fatalf("%d failed renewals", extends)
				}
			}
			s.want.storeErrors = extends
			if got := readLock(t, reader); got != s.want {
				t.Fatalf("step %d (%s): metrics %+v, want %+v", i+1, s.name, got, s.want)
			}
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if reader.Has(grellock.MetricHeld) {
			t.Fatal("the held gauge is still observed after Close")
		}
	})
}

// The held gauge counts the holds valid now: one past its deadline is not
// counted, and reading the gauge does not mark it lost.
func TestHeldGaugeChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := metrictest.New(t)
		l, err := grellock.New("cart", grellock.NewMemory(), noEnv, grellock.WithMeterProvider(reader.Provider),
			grellock.WithLeaseDuration(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		a, _ := l.TryAcquire(ctx)
		if n := reader.Int(grellock.MetricHeld); n != 1 {
			t.Fatalf("held %d, want 1", n)
		}
		time.Sleep(time.Second)
		if n := reader.Int(grellock.MetricHeld); n != 0 {
			t.Fatalf("held %d past the deadline, want 0", n)
		}
		if n := reader.Int(grellock.MetricHoldsLost); n != 0 {
			t.Fatalf("reading the gauge marked the hold lost (%d)", n)
		}
		if a.Held() || reader.Int(grellock.MetricHoldsLost) != 1 {
			t.Fatalf("Held %v after the deadline, lost %d", a.Held(), reader.Int(grellock.MetricHoldsLost))
		}
	})
}

func TestTaskLockMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 9 * time.Second
		reader := metrictest.New(t)
		f := &faulty{Backend: grellock.NewMemory()}
		tl, err := grellock.NewTaskLock("report", f, noEnv, grellock.WithMeterProvider(reader.Provider),
			grellock.WithLeaseDuration(lease), grellock.WithMinHold(0))
		if err != nil {
			t.Fatal(err)
		}
		other, err := grellock.New("report", f, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		errTask := errors.New("task failed")
		ok := func(context.Context) error { return nil }
		steps := []struct {
			name string
			do   func() error
			want map[string]int64
		}{
			{name: "a run", do: func() error { return tl.Run(ctx, ok) }, want: map[string]int64{"ran": 1}},
			{name: "a failed run", do: func() error { return tl.Run(ctx, func(context.Context) error { return errTask }) },
				want: map[string]int64{"ran": 1, "failed": 1}},
			{name: "another replica holds it", do: func() error {
				h, err := other.TryAcquire(ctx)
				if err != nil {
					return err
				}
				defer func() { _ = h.Release(ctx) }()
				if err := tl.Run(ctx, ok); !errors.Is(err, grellock.ErrNotAcquired) {
					return errors.Join(errors.New("not skipped"), err)
				}
				return nil
			}, want: map[string]int64{"ran": 1, "failed": 1, "skipped": 1}},
			{name: "the run loses the lock", do: func() error {
				err := tl.Run(ctx, func(ctx context.Context) error {
					f.set(grellock.ErrNotHeld, false)
					<-ctx.Done()
					f.set(nil, false)
					return nil
				})
				if !errors.Is(err, grellock.ErrLost) {
					return errors.Join(errors.New("not lost"), err)
				}
				return nil
			}, want: map[string]int64{"ran": 1, "failed": 1, "skipped": 1, "lost": 1}},
			{name: "a run inside a run", do: func() error {
				return tl.Run(ctx, func(ctx context.Context) error {
					if err := tl.Run(ctx, ok); !errors.Is(err, grellock.ErrReentrant) {
						return errors.Join(errors.New("not reentrant"), err)
					}
					return nil
				})
			}, want: map[string]int64{"ran": 2, "failed": 1, "skipped": 1, "lost": 1, "error": 1}},
		}
		for i, s := range steps {
			if err := s.do(); err != nil && !errors.Is(err, errTask) {
				t.Fatalf("step %d (%s): %v", i+1, s.name, err)
			}
			for _, o := range []string{"ran", "failed", "skipped", "lost", "error"} {
				got := reader.Int(grellock.MetricRuns, attribute.String("grel.name", "report"), attribute.String("grel.backend", "custom"),
					attribute.String("outcome", o))
				if got != s.want[o] {
					t.Fatalf("step %d (%s): %d runs %s, want %d", i+1, s.name, got, o, s.want[o])
				}
			}
		}
		if n := reader.Int(grellock.MetricRenewFailures("tasklock"), attribute.String("reason", "not_held")); n != 1 {
			t.Fatalf("%d refused renewals, want 1", n)
		}
		if reader.Has(grellock.MetricAcquisitions) || reader.Has(grellock.MetricHoldsLost) {
			t.Fatal("a TaskLock emits the Lock's metrics")
		}
	})
}

func TestElectionMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := metrictest.New(t)
		f := &faulty{Backend: grellock.NewMemory()}
		e, err := grellock.NewLeaderElection("leader", f, noEnv, grellock.WithMeterProvider(reader.Provider), grellock.WithJitter(0),
			grellock.WithLeaseDuration(15*time.Second), grellock.WithRenewDeadline(10*time.Second), grellock.WithRetryInterval(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		attrs := []attribute.KeyValue{attribute.String("grel.name", "leader"), attribute.String("grel.backend", "custom")}
		check := func(step string, leader int64, leaderT, followerT, stoppedT int64) {
			t.Helper()
			if got := reader.Int(grellock.MetricIsLeader, attrs...); got != leader {
				t.Fatalf("%s: is_leader %d, want %d", step, got, leader)
			}
			for state, want := range map[string]int64{"leader": leaderT, "follower": followerT, "stopped": stoppedT} {
				if got := reader.Int(grellock.MetricTransitions, append(attrs, attribute.String("state", state))...); got != want {
					t.Fatalf("%s: %d transitions to %s, want %d", step, got, state, want)
				}
			}
		}
		if !reader.Has(grellock.MetricIsLeader) {
			t.Fatal("is_leader is not observed before Start")
		}
		check("before Start", 0, 0, 0, 0)
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		check("leading", 1, 1, 0, 0)
		// The store refuses the next renewal: the term ends; the candidate
		// takes the lease again at its next attempt.
		f.set(grellock.ErrNotHeld, false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		check("lost", 0, 1, 1, 0)
		f.set(nil, false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		check("leading again", 1, 2, 1, 0)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		check("stopped", 0, 2, 1, 1)
		if n := reader.Int(grellock.MetricRenewFailures("leaderelection"), append(attrs, attribute.String("reason", "not_held"))...); n != 1 {
			t.Fatalf("%d refused renewals, want 1", n)
		}
	})
}

// The hot paths allocate as much with metrics as without: nothing to check
// or extend a hold, the hold and its token to acquire and release.
func TestMemoryAllocationsWithMetrics(t *testing.T) {
	ctx := context.Background()
	for name, mp := range map[string]grellock.Option{
		"no-op": grellock.WithMeterProvider(noop.NewMeterProvider()),
		"sdk":   grellock.WithMeterProvider(metrictest.New(t).Provider),
	} {
		l, err := grellock.New("job", grellock.NewMemory(), noEnv, mp)
		if err != nil {
			t.Fatal(err)
		}
		h, err := l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(1000, func() { _ = h.Held(); _ = h.Extend(ctx) }); got != 0 {
			t.Errorf("%s: Held + Extend: %v allocs, want 0", name, got)
		}
		_ = h.Release(ctx)
		if got := testing.AllocsPerRun(1000, func() {
			h, err := l.TryAcquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Release(ctx)
		}); got != 2 {
			t.Errorf("%s: TryAcquire + Release: %v allocs, want 2", name, got)
		}
	}
}

// The Module gives its instances the app's meter provider; an election's
// gauge is observed from the app's start.
func TestModuleMetrics(t *testing.T) {
	var reader *sdkmetric.ManualReader
	var l *grellock.Lock
	fxgreltest.Start(t, nil, grellock.Module, grellock.Named("cart"), grellock.NamedElection("leader"),
		fx.Populate(&reader, fx.Annotate(&l, fx.ParamTags(grellock.Tag("cart")))))
	h, err := l.TryAcquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Release(context.Background()) }()
	rm := fxgreltest.CollectMetrics(t, reader)
	for _, name := range []string{grellock.MetricAcquisitions, grellock.MetricHeld, grellock.MetricIsLeader} {
		m, ok := fxgreltest.FindMetric(rm, name)
		if !ok {
			t.Fatalf("no %s in the app's metrics", name)
		}
		var n int
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			n = len(d.DataPoints)
		case metricdata.Gauge[int64]:
			n = len(d.DataPoints)
		}
		if n != 1 {
			t.Fatalf("%s: %+v", name, m.Data)
		}
	}
}
