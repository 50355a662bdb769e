package grelbreaker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var errStore = errors.New("store unreachable")

// store is a shared store stand-in: a Memory behind the Backend interface
// (so breakers on it take the shared-store path), which counts round trips
// and can be made to fail or hang.
type store struct {
	inner grelbreaker.Backend
	down  atomic.Bool
	hang  atomic.Bool
	mu    sync.Mutex
	ops   map[string]int
}

func newStore() *store { return &store{inner: grelbreaker.NewMemory(), ops: map[string]int{}} }

func (s *store) String() string { return "teststore" }

func (s *store) op(ctx context.Context, name string) error {
	s.mu.Lock()
	s.ops[name]++
	s.mu.Unlock()
	if s.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.down.Load() {
		return errStore
	}
	return nil
}

func (s *store) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops[name]
}

func (s *store) Load(ctx context.Context, key string, cfg *grelbreaker.Config) (grelbreaker.Snapshot, error) {
	if err := s.op(ctx, "load"); err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return s.inner.Load(ctx, key, cfg)
}

func (s *store) Allow(ctx context.Context, key string, cfg *grelbreaker.Config) (grelbreaker.Admission, error) {
	if err := s.op(ctx, "allow"); err != nil {
		return grelbreaker.Admission{}, err
	}
	return s.inner.Allow(ctx, key, cfg)
}

func (s *store) Record(ctx context.Context, key string, cfg *grelbreaker.Config, rec grelbreaker.Record) (grelbreaker.Snapshot, error) {
	if err := s.op(ctx, "record"); err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return s.inner.Record(ctx, key, cfg, rec)
}

func (s *store) Set(ctx context.Context, key string, cfg *grelbreaker.Config, st grelbreaker.State) (grelbreaker.Snapshot, error) {
	if err := s.op(ctx, "set"); err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return s.inner.Set(ctx, key, cfg, st)
}

var _ grelbreaker.Backend = (*store)(nil)

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errDown }

func TestSharedRoundTrips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		b := mustNew(t, st, grelbreaker.WithStaleness(time.Second))
		ctx := context.Background()
		for range 10 {
			if err := b.Execute(ctx, ok); err != nil {
				t.Fatal(err)
			}
		}
		// One read for the first call; every outcome recorded once; the
		// answers keep the local copy fresh.
		if st.count("allow") != 1 || st.count("record") != 10 {
			t.Fatalf("ops %v", st.ops)
		}
		time.Sleep(2 * time.Second)
		_ = b.Execute(ctx, ok)
		if st.count("allow") != 2 {
			t.Fatalf("a stale copy was not read again: %v", st.ops)
		}
		// A caller cancellation in the closed state changes nothing in the
		// store: no round trip.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_ = b.Execute(cctx, func(ctx context.Context) error { return ctx.Err() })
		if st.count("record") != 11 {
			t.Fatalf("ignored outcome recorded: %v", st.ops)
		}
		// Staleness 0 reads on every call.
		b0 := mustNew(t, st, grelbreaker.WithStaleness(0), grelbreaker.WithKey("zero"))
		for range 3 {
			_ = b0.Execute(ctx, ok)
		}
		if st.count("allow") != 5 {
			t.Fatalf("staleness 0: %v", st.ops)
		}
	})
}

func TestSharedTripSeenByAnotherReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		recB := &recorder{}
		a := mustNew(t, st, grelbreaker.WithFailureThreshold(2), grelbreaker.WithStaleness(time.Second))
		b := mustNew(t, st, grelbreaker.WithFailureThreshold(2), grelbreaker.WithStaleness(time.Second), grelbreaker.WithOnStateChange(recB.listen))
		ctx := context.Background()
		_ = b.Start(ctx)
		_ = b.Execute(ctx, ok) // b's copy: closed, fresh
		_ = a.Execute(ctx, fail)
		_ = a.Execute(ctx, fail)
		if a.State() != open {
			t.Fatalf("a: %s", a.State())
		}
		// b has not asked the store since: its copy is closed, younger than
		// the staleness bound.
		if b.State() != closed {
			t.Fatalf("b: %s", b.State())
		}
		time.Sleep(time.Second)
		// Past the bound, b reads the store and refuses.
		if err := b.Execute(ctx, func(context.Context) error { t.Fatal("ran"); return nil }); !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("b after the bound: %v", err)
		}
		if got := recB.transitions(); got != "start:closed closed>open" {
			t.Fatalf("b's events %q", got)
		}
		// Refusals from a fresh open copy cost no round trip.
		allows := st.count("allow")
		_ = b.Execute(ctx, ok)
		if st.count("allow") != allows {
			t.Fatal("a refusal from a fresh open copy asked the store")
		}
	})
}

func TestSharedRecordAnswerRefreshesCopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		a := mustNew(t, st, grelbreaker.WithFailureThreshold(1))
		b := mustNew(t, st, grelbreaker.WithFailureThreshold(1))
		ctx := context.Background()
		_ = b.Execute(ctx, ok)
		_ = a.Execute(ctx, fail)
		// b's next call is admitted from its fresh copy, and its Record's
		// answer tells it the store is open.
		if err := b.Execute(ctx, ok); err != nil {
			t.Fatal(err)
		}
		if b.State() != open {
			t.Fatalf("b: %s", b.State())
		}
	})
}

func TestStoreDownFallsBackToLocalState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		core, logs := observer.New(zapcore.InfoLevel)
		var degraded []grelbreaker.DegradedEvent
		rec := &recorder{}
		b := mustNew(t, st, grelbreaker.WithFailureThreshold(3), grelbreaker.WithLogger(zap.New(core)), grelbreaker.WithMeterProvider(mp),
			grelbreaker.WithOnDegraded(func(ev grelbreaker.DegradedEvent) { degraded = append(degraded, ev) }),
			grelbreaker.WithOnStateChange(rec.listen), grelbreaker.WithOpenDuration(time.Minute))
		defer func() { _ = b.Stop(context.Background()) }()
		ctx := context.Background()
		_ = b.Execute(ctx, fail) // counted locally too: the local copy is warm
		st.down.Store(true)
		if err := b.Execute(ctx, fail); err != errDown {
			t.Fatalf("the call's own error must come back: %v", err)
		}
		if !b.Degraded() || len(degraded) != 1 || !degraded[0].Degraded || !errors.Is(degraded[0].Err, errStore) {
			t.Fatalf("degraded %v, events %+v", b.Degraded(), degraded)
		}
		warn := logs.FilterMessage("breaker store unavailable: deciding on local state").All()
		if len(warn) != 1 || warn[0].Level != zapcore.WarnLevel || warn[0].ContextMap()["op"] != "record" {
			t.Fatalf("warn lines %v", warn)
		}
		if n := gauge(t, reader, "grel.breaker.degraded"); n != 1 {
			t.Fatalf("degraded gauge %d", n)
		}
		storeErrs, _ := collect(t, reader)["grel.breaker.store_errors"].(metricdata.Sum[int64])
		if len(storeErrs.DataPoints) != 1 || storeErrs.DataPoints[0].Value != 1 {
			t.Fatalf("store errors %+v", storeErrs)
		}
		// The local state decides, without asking the store.
		before := st.count("allow") + st.count("record")
		_ = b.Execute(ctx, fail)
		if st.count("allow")+st.count("record") != before {
			t.Fatalf("degraded call asked the store: %v", st.ops)
		}
		if b.State() != open {
			t.Fatalf("local state did not trip on the third failure: %s %+v", b.State(), b.Counts())
		}
		if err := b.Execute(ctx, ok); !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("local open: %v", err)
		}
		if got := rec.transitions(); got != "closed>open" || !rec.events[0].Local {
			t.Fatalf("events %q %+v", got, rec.events)
		}
		// At most one probe per second while down.
		time.Sleep(time.Second)
		_ = b.Execute(ctx, ok)
		_ = b.Execute(ctx, ok)
		if st.count("allow") != 2 {
			t.Fatalf("probes %v", st.ops)
		}
		// Back: the next probe puts it on the shared state (closed there).
		st.down.Store(false)
		time.Sleep(time.Second)
		if err := b.Execute(ctx, ok); err != nil {
			t.Fatalf("back on the store: %v", err)
		}
		if b.Degraded() || len(degraded) != 2 || degraded[1].Degraded {
			t.Fatalf("degraded %v, events %+v", b.Degraded(), degraded)
		}
		if got := rec.transitions(); got != "closed>open open>closed" {
			t.Fatalf("events %q", got)
		}
		if len(logs.FilterMessage("breaker store available again: deciding on shared state").All()) != 1 {
			t.Fatal("no info line on recovery")
		}
	})
}

func TestStoreDownKeepsSharedOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		b := mustNew(t, st, grelbreaker.WithOpenDuration(time.Minute), grelbreaker.WithStaleness(0))
		ctx := context.Background()
		if err := b.Open(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		st.down.Store(true)
		// The store fails on the read; the local copy was seeded open with
		// the shared deadline.
		err := b.Execute(ctx, ok)
		var oe *grelbreaker.OpenError
		if !errors.As(err, &oe) || !b.Degraded() || oe.RetryAfter() != 50*time.Second {
			t.Fatalf("err %v degraded %v", err, b.Degraded())
		}
	})
}

func TestStoreTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		b := mustNew(t, st, grelbreaker.WithStoreTimeout(200*time.Millisecond))
		st.hang.Store(true)
		begin := time.Now()
		if err := b.Execute(context.Background(), ok); err != nil {
			t.Fatal(err)
		}
		// The read timed out (then the call ran on local state) and the
		// record was not attempted on a degraded breaker.
		if d := time.Since(begin); d != 200*time.Millisecond || !b.Degraded() {
			t.Fatalf("took %v, degraded %v", d, b.Degraded())
		}
	})
}

func TestCallerCancelIsNotAStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		b := mustNew(t, st, grelbreaker.WithStoreTimeout(time.Minute))
		st.hang.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := b.Execute(ctx, func(context.Context) error { t.Fatal("ran"); return nil })
		if !errors.Is(err, context.DeadlineExceeded) || b.Degraded() {
			t.Fatalf("err %v, degraded %v", err, b.Degraded())
		}
	})
}

func TestSharedStartAndManual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		other := mustNew(t, st)
		ctx := context.Background()
		if err := other.ForceOpen(ctx); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		b := mustNew(t, st, grelbreaker.WithOnStateChange(rec.listen))
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if rec.transitions() != "start:forced-open" || st.count("load") != 1 {
			t.Fatalf("start: %q, ops %v", rec.transitions(), st.ops)
		}
		if err := b.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if rec.transitions() != "start:forced-open forced-open>closed(manual)" {
			t.Fatalf("events %q", rec.transitions())
		}
		st.down.Store(true)
		err := b.Open(ctx)
		var se *grelbreaker.StoreError
		if !errors.As(err, &se) || se.Op != "set" || !errors.Is(err, errStore) {
			t.Fatalf("Open on a down store: %v", err)
		}
		if b.State() != open || !b.Degraded() {
			t.Fatalf("local state %s degraded %v", b.State(), b.Degraded())
		}
		if err := b.Refresh(ctx); !errors.As(err, &se) {
			t.Fatalf("Refresh: %v", err)
		}
	})
}

func TestSharedStartOnDownStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		st.down.Store(true)
		rec := &recorder{}
		b := mustNew(t, st, grelbreaker.WithOnStateChange(rec.listen))
		if err := b.Start(context.Background()); err != nil {
			t.Fatalf("a down store must not fail Start: %v", err)
		}
		if !b.Degraded() || rec.transitions() != "start:closed" {
			t.Fatalf("degraded %v, events %q", b.Degraded(), rec.transitions())
		}
	})
}

// A call admitted by the store before it failed does not wait for it
// again to record its outcome once the breaker is degraded.
func TestDegradedRecordSkipsTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore()
		b := mustNew(t, st, grelbreaker.WithStoreTimeout(time.Second), grelbreaker.WithStaleness(time.Minute))
		ctx := context.Background()
		_ = b.Execute(ctx, ok) // the copy is fresh: the next calls are admitted locally
		release := make(chan struct{})
		done := make(chan time.Duration)
		go func() {
			begin := time.Now()
			_ = b.Execute(ctx, func(context.Context) error { <-release; return nil })
			done <- time.Since(begin)
		}()
		synctest.Wait()
		st.hang.Store(true)
		_ = b.Execute(ctx, ok) // its record times out: degraded
		if !b.Degraded() {
			t.Fatal("not degraded")
		}
		records := st.count("record")
		close(release)
		if d := <-done; d != time.Second {
			t.Fatalf("the held call took %v, want only the time it was held", d)
		}
		if st.count("record") != records {
			t.Fatal("a degraded breaker recorded to the store")
		}
	})
}
