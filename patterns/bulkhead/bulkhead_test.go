package grelbulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t *testing.T, cfg grelbulkhead.Config) *grelbulkhead.Bulkhead {
	t.Helper()
	b, err := grelbulkhead.NewFromConfig("reports", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// harness runs named calls that hold their slot until released.
type harness struct {
	t       *testing.T
	b       *grelbulkhead.Bulkhead
	release map[string]chan struct{}
	cancel  map[string]context.CancelFunc
	result  map[string]chan error
	running sync.Map
}

func newHarness(t *testing.T, b *grelbulkhead.Bulkhead) *harness {
	return &harness{t: t, b: b, release: map[string]chan struct{}{}, cancel: map[string]context.CancelFunc{}, result: map[string]chan error{}}
}

func (h *harness) start(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	h.release[name], h.cancel[name], h.result[name] = make(chan struct{}), cancel, make(chan error, 1)
	rel := h.release[name]
	go func() {
		h.result[name] <- h.b.Execute(ctx, func(context.Context) error {
			h.running.Store(name, true)
			<-rel
			h.running.Delete(name)
			return nil
		})
	}()
	synctest.Wait()
}

func (h *harness) isRunning(name string) bool { _, ok := h.running.Load(name); return ok }

// done returns the call's result if it has ended.
func (h *harness) done(name string) (ended bool, err error) {
	select {
	case err := <-h.result[name]:
		h.result[name] <- err
		return true, err
	default:
		return false, nil
	}
}

// step: an action, then the calls that must run, wait, or have ended with
// an error kind.
type step struct {
	do      string // start X, release X, cancel X, wait D
	arg     string
	wait    time.Duration
	running []string
	waiting int
	ended   map[string]string // name -> ok, full, canceled
	metrics counts            // what the step adds to the counters
}

// counts are the bulkhead's counters: rejections by reason, and queue waits
// by outcome with their total in seconds.
type counts struct {
	full, maxWait                int64
	admitted, rejected, canceled uint64
	seconds                      float64
}

func (c *counts) add(d counts) {
	c.full += d.full
	c.maxWait += d.maxWait
	c.admitted += d.admitted
	c.rejected += d.rejected
	c.canceled += d.canceled
	c.seconds += d.seconds
}

// readCounts reads the counters, and checks the gauges against the
// bulkhead's own numbers.
func readCounts(t *testing.T, r *metrictest.Reader, b *grelbulkhead.Bulkhead) counts {
	t.Helper()
	name := attribute.String("grel.name", "reports")
	if n := r.Int(grelbulkhead.MetricInFlight, name); n != int64(b.InFlight()) {
		t.Fatalf("%s = %d, InFlight %d", grelbulkhead.MetricInFlight, n, b.InFlight())
	}
	if n := r.Int(grelbulkhead.MetricWaiting, name); n != int64(b.Waiting()) {
		t.Fatalf("%s = %d, Waiting %d", grelbulkhead.MetricWaiting, n, b.Waiting())
	}
	var c counts
	c.full = r.Int(grelbulkhead.MetricRejections, name, attribute.String("reason", "full"))
	c.maxWait = r.Int(grelbulkhead.MetricRejections, name, attribute.String("reason", "max_wait"))
	c.admitted, _ = r.Count(grelbulkhead.MetricQueueWait, name, attribute.String("outcome", "admitted"))
	c.rejected, _ = r.Count(grelbulkhead.MetricQueueWait, name, attribute.String("outcome", "rejected"))
	c.canceled, _ = r.Count(grelbulkhead.MetricQueueWait, name, attribute.String("outcome", "canceled"))
	_, c.seconds = r.Count(grelbulkhead.MetricQueueWait, name)
	return c
}

func TestSteps(t *testing.T) {
	tests := []struct {
		name  string
		cfg   grelbulkhead.Config
		steps []step
	}{
		{
			name: "no queue: refuse at once",
			cfg:  grelbulkhead.Config{MaxConcurrent: 2},
			steps: []step{
				{do: "start", arg: "a", running: []string{"a"}},
				{do: "start", arg: "b", running: []string{"a", "b"}},
				{do: "start", arg: "c", running: []string{"a", "b"}, ended: map[string]string{"c": "full"}, metrics: counts{full: 1}},
				{do: "release", arg: "a", running: []string{"b"}, ended: map[string]string{"a": "ok"}},
				{do: "start", arg: "d", running: []string{"b", "d"}},
			},
		},
		{
			name: "queue: oldest waiter first, bounded queue",
			cfg:  grelbulkhead.Config{MaxConcurrent: 1, MaxWaiting: 2},
			steps: []step{
				{do: "start", arg: "a", running: []string{"a"}},
				{do: "start", arg: "b", running: []string{"a"}, waiting: 1},
				{do: "start", arg: "c", running: []string{"a"}, waiting: 2},
				{do: "start", arg: "d", running: []string{"a"}, waiting: 2, ended: map[string]string{"d": "full"}, metrics: counts{full: 1}},
				{do: "release", arg: "a", running: []string{"b"}, waiting: 1, metrics: counts{admitted: 1}},
				{do: "wait", wait: time.Second, running: []string{"b"}, waiting: 1},
				{do: "release", arg: "b", running: []string{"c"}, waiting: 0, metrics: counts{admitted: 1, seconds: 1}},
			},
		},
		{
			name: "a waiter whose context ends leaves the queue",
			cfg:  grelbulkhead.Config{MaxConcurrent: 1, MaxWaiting: 5},
			steps: []step{
				{do: "start", arg: "a", running: []string{"a"}},
				{do: "start", arg: "b", running: []string{"a"}, waiting: 1},
				{do: "start", arg: "c", running: []string{"a"}, waiting: 2},
				{do: "cancel", arg: "b", running: []string{"a"}, waiting: 1, ended: map[string]string{"b": "canceled"}, metrics: counts{canceled: 1}},
				{do: "release", arg: "a", running: []string{"c"}, metrics: counts{admitted: 1}},
			},
		},
		{
			name: "max wait",
			cfg:  grelbulkhead.Config{MaxConcurrent: 1, MaxWaiting: 5, MaxWait: time.Second},
			steps: []step{
				{do: "start", arg: "a", running: []string{"a"}},
				{do: "start", arg: "b", running: []string{"a"}, waiting: 1},
				{do: "wait", wait: 999 * time.Millisecond, running: []string{"a"}, waiting: 1},
				{do: "wait", wait: time.Millisecond, running: []string{"a"}, ended: map[string]string{"b": "full-waited"},
					metrics: counts{maxWait: 1, rejected: 1, seconds: 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reader := metrictest.New(t)
				b, err := grelbulkhead.NewFromConfig("reports", tt.cfg, grelbulkhead.WithMeterProvider(reader.Provider))
				if err != nil {
					t.Fatal(err)
				}
				h := newHarness(t, b)
				var want counts
				for i, s := range tt.steps {
					switch s.do {
					case "start":
						h.start(s.arg)
					case "release":
						close(h.release[s.arg])
					case "cancel":
						h.cancel[s.arg]()
					case "wait":
						time.Sleep(s.wait)
					}
					synctest.Wait()
					for _, name := range s.running {
						if !h.isRunning(name) {
							t.Fatalf("step %d: %s is not running", i+1, name)
						}
					}
					if got := h.b.InFlight(); got != len(s.running) {
						t.Fatalf("step %d: %d in flight, want %d", i+1, got, len(s.running))
					}
					if got := h.b.Waiting(); got != s.waiting {
						t.Fatalf("step %d: %d waiting, want %d", i+1, got, s.waiting)
					}
					for name, want := range s.ended {
						ended, err := h.done(name)
						if !ended {
							t.Fatalf("step %d: %s has not ended", i+1, name)
						}
						var fe *grelbulkhead.FullError
						got := "ok"
						switch {
						case errors.As(err, &fe) && fe.Waited > 0:
							got = "full-waited"
						case errors.Is(err, grelbulkhead.ErrBulkheadFull):
							got = "full"
						case errors.Is(err, context.Canceled):
							got = "canceled"
						case err != nil:
							got = err.Error()
						}
						if got != want {
							t.Fatalf("step %d: %s ended %s, want %s", i+1, name, got, want)
						}
					}
					want.add(s.metrics)
					if got := readCounts(t, reader, b); got != want {
						t.Fatalf("step %d: metrics %+v, want %+v", i+1, got, want)
					}
				}
				for name, rel := range h.release {
					select {
					case <-rel:
					default:
						close(rel)
					}
					h.cancel[name]()
				}
			})
		})
	}
}

func TestNeverExceedsTheBound(t *testing.T) {
	b := mustNew(t, grelbulkhead.Config{MaxConcurrent: 3, MaxWaiting: 1000})
	var cur, peak, ran atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 20 {
				err := b.Execute(context.Background(), func(context.Context) error {
					n := cur.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(time.Microsecond)
					cur.Add(-1)
					ran.Add(1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if peak.Load() > 3 || ran.Load() != 64*20 || b.InFlight() != 0 || b.Waiting() != 0 {
		t.Fatalf("peak %d, ran %d, in flight %d, waiting %d", peak.Load(), ran.Load(), b.InFlight(), b.Waiting())
	}
}

func TestReconfigureAdmitsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, grelbulkhead.Config{MaxConcurrent: 1, MaxWaiting: 5})
		h := newHarness(t, b)
		h.start("a")
		h.start("b")
		h.start("c")
		if b.Waiting() != 2 {
			t.Fatalf("waiting %d", b.Waiting())
		}
		if err := b.Reconfigure(grelbulkhead.Config{MaxConcurrent: 3, MaxWaiting: 5}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if b.InFlight() != 3 || b.Waiting() != 0 {
			t.Fatalf("in flight %d, waiting %d", b.InFlight(), b.Waiting())
		}
		for _, n := range []string{"a", "b", "c"} {
			close(h.release[n])
			h.cancel[n]()
		}
		if err := b.Reconfigure(grelbulkhead.Config{}); err == nil {
			t.Fatal("zero MaxConcurrent accepted")
		}
	})
}

func TestAcquire(t *testing.T) {
	b := mustNew(t, grelbulkhead.Config{MaxConcurrent: 1})
	release, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(context.Background()); !errors.Is(err, grelbulkhead.ErrBulkheadFull) {
		t.Fatalf("second Acquire: %v", err)
	}
	release()
	release() // once
	if b.InFlight() != 0 {
		t.Fatalf("in flight %d", b.InFlight())
	}
	v, err := grelbulkhead.ExecuteValue(context.Background(), b, func(context.Context) (int, error) { return 5, nil })
	if v != 5 || err != nil {
		t.Fatal(v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r2, _ := b.Acquire(context.Background())
	if err := b.Execute(ctx, func(context.Context) error { return nil }); !errors.Is(err, grelbulkhead.ErrBulkheadFull) {
		t.Fatalf("no queue: %v", err)
	}
	r2()
}

func TestConfig(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_BULKHEAD_MAX_CONCURRENT": "4", "GREL_BULKHEAD_REPORTS_MAX_WAITING": "8", "GREL_BULKHEAD_REPORTS_MAX_WAIT": "2s"}))
	b, err := grelbulkhead.New("reports", grelbulkhead.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if c := b.Config(); c != (grelbulkhead.Config{MaxConcurrent: 4, MaxWaiting: 8, MaxWait: 2 * time.Second}) {
		t.Fatalf("config %+v", c)
	}
	_, err = grelbulkhead.New("reports", grelbulkhead.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_BULKHEAD_REPORTS_MAX_CONCURRENT": "many"}))))
	if err == nil || !strings.Contains(err.Error(), "GREL_BULKHEAD_REPORTS_MAX_CONCURRENT (MaxConcurrent): not a valid integer") || strings.Contains(err.Error(), "many") {
		t.Fatalf("err %v", err)
	}
	if _, err := grelbulkhead.NewFromConfig("x", grelbulkhead.Config{MaxConcurrent: 1}, grelbulkhead.WithMaxWaiting(-1)); err == nil {
		t.Fatal("negative MaxWaiting accepted")
	}
	fe := &grelbulkhead.FullError{Name: "reports", Waited: time.Second}
	if fmt.Sprint(fe) != "grelbulkhead: reports: full after waiting 1s" {
		t.Fatal(fe)
	}
}

func TestModule(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_BULKHEAD_REPORTS_MAX_CONCURRENT": "2"}))
	var b *grelbulkhead.Bulkhead
	app := fxtest.New(t, fx.Supply(reg), grelbulkhead.Named("reports"), fx.Populate(fx.Annotate(&b, fx.ParamTags(grelbulkhead.Tag("reports")))))
	app.RequireStart()
	if b.Config().MaxConcurrent != 2 || !slices.Contains(reg.Live(), grelconfig.Key{Kind: "BULKHEAD", Instance: "reports"}) {
		t.Fatalf("%+v %v", b.Config(), reg.Live())
	}
	app.RequireStop()
}

func TestExecuteAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	cfg := grelbulkhead.Config{MaxConcurrent: 4}
	for name, opts := range map[string][]grelbulkhead.Option{
		"no meter": nil,
		"no-op":    {grelbulkhead.WithMeterProvider(noop.NewMeterProvider())},
		"sdk":      {grelbulkhead.WithMeterProvider(metrictest.New(t).Provider)},
	} {
		b, err := grelbulkhead.NewFromConfig("reports", cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(200, func() { _ = b.Execute(ctx, fn) }); n != 0 {
			t.Errorf("%s: %v allocs per call", name, n)
		}
	}
}

// The Module gives its bulkheads the app's meter provider; the gauges are
// there from the start.
func TestModuleMetrics(t *testing.T) {
	var reader *sdkmetric.ManualReader
	var b *grelbulkhead.Bulkhead
	fxgreltest.Start(t, nil, grelbulkhead.Named("reports"),
		fx.Populate(&reader, fx.Annotate(&b, fx.ParamTags(grelbulkhead.Tag("reports")))))
	release, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, ok := fxgreltest.FindMetric(fxgreltest.CollectMetrics(t, reader), grelbulkhead.MetricInFlight)
	if g, _ := m.Data.(metricdata.Gauge[int64]); !ok || len(g.DataPoints) != 1 || g.DataPoints[0].Value != 1 {
		t.Fatalf("%s in the app's metrics: %+v", grelbulkhead.MetricInFlight, m)
	}
}

// FuzzConfig resolves arbitrary values: no panic, and what resolves is a
// valid config.
func FuzzConfig(f *testing.F) {
	fields := []string{"MAX_CONCURRENT", "MAX_WAITING", "MAX_WAIT"}
	for i, seed := range []string{"10", "0", "-1", "1m", "0.5", "1e400", "99999999999999999999", "s3cr#t"} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, field uint8, value string) {
		name := "GREL_BULKHEAD_FUZZ_" + fields[int(field)%len(fields)]
		cfg, err := grelbulkhead.Spec().ResolveFrom(grelconfig.Map(map[string]string{name: value}), "fuzz")
		if err != nil {
			if strings.ContainsAny(value, "#$%@!") && strings.Contains(err.Error(), value) {
				t.Fatalf("error %q repeats the value", err)
			}
			return
		}
		if cfg.MaxConcurrent < 1 || cfg.MaxWaiting < 0 || cfg.MaxWait < 0 {
			t.Fatalf("resolved an invalid config %+v", cfg)
		}
		if _, err := grelbulkhead.NewFromConfig("fuzz", cfg); err != nil {
			t.Fatalf("NewFromConfig(resolved): %v", err)
		}
	})
}
