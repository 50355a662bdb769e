package grelhealth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/fx"
)

// meter is the shared metric reader of the tests (internal/metrictest),
// with the shapes these tests read.
type meter struct {
	*metrictest.Reader
	mp *sdkmetric.MeterProvider
}

func newMeter(t *testing.T) *meter {
	r := metrictest.New(t)
	return &meter{Reader: r, mp: r.Provider}
}

func (m *meter) get(name string) (metricdata.Metrics, bool) {
	md, ok := m.Metrics()[name]
	return md, ok
}

func carries(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// value sums the int64 points of name that carry attrs (0 when none).
func (m *meter) value(name string, attrs ...attribute.KeyValue) int64 {
	return m.Int(name, attrs...)
}

// histogram returns the count and sum of name's points that carry attrs.
func (m *meter) histogram(name string, attrs ...attribute.KeyValue) (uint64, time.Duration) {
	n, sum := m.Count(name, attrs...)
	return n, time.Duration(sum * float64(time.Second)).Round(time.Millisecond)
}

// TestMetrics runs one check through each outcome, step by step on a fake
// clock, and checks the runs, their durations and the status gauge.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMeter(t)
		c := newChecker(t, grelhealth.WithMeterProvider(m.mp), grelhealth.WithTTL(0))
		var next atomic.Value
		release := make(chan struct{})
		mustRegister(t, c, grelhealth.Check{Name: "db", Timeout: time.Second, Func: func(ctx context.Context) error {
			switch next.Load().(string) {
			case "fail":
				time.Sleep(200 * time.Millisecond)
				return errors.New("down")
			case "hang": // ignores its context
				<-release
				return nil
			case "panic":
				panic("bug")
			}
			time.Sleep(100 * time.Millisecond)
			return nil
		}})
		db := attribute.String("grel.name", "db")
		type want struct {
			status       int64 // -1: no point yet
			pass, fail   int64
			timeout, pnc int64
			took         time.Duration // the durations' sum
		}
		steps := []struct {
			next string
			want want
		}{
			{"", want{status: -1}}, // registered, never run
			{"pass", want{status: 1, pass: 1, took: 100 * time.Millisecond}},
			{"fail", want{status: 0, pass: 1, fail: 1, took: 300 * time.Millisecond}},
			{"pass", want{status: 1, pass: 2, fail: 1, took: 400 * time.Millisecond}},
			{"hang", want{status: 0, pass: 2, fail: 1, timeout: 1, took: 1400 * time.Millisecond}},
			// The function still runs: no new run, ErrStillRunning is no run.
			{"still", want{status: 0, pass: 2, fail: 1, timeout: 1, took: 1400 * time.Millisecond}},
			{"panic", want{status: 0, pass: 2, fail: 1, timeout: 1, pnc: 1, took: 1400 * time.Millisecond}},
		}
		for i, s := range steps {
			switch s.next {
			case "":
			case "still":
				if res, _ := c.Check(t.Context(), "db"); !errors.Is(res.Err, grelhealth.ErrStillRunning) {
					t.Fatalf("step %d: %v, want ErrStillRunning", i+1, res.Err)
				}
				close(release)
				synctest.Wait()
			default:
				next.Store(s.next)
				_, _ = c.Check(t.Context(), "db")
				synctest.Wait()
			}
			status := int64(-1)
			if md, ok := m.get(grelhealth.MetricStatus); ok {
				g := md.Data.(metricdata.Gauge[int64])
				if len(g.DataPoints) != 1 || !carries(g.DataPoints[0].Attributes, []attribute.KeyValue{db,
					attribute.Bool("critical", true), attribute.Bool("liveness", false)}) {
					t.Fatalf("step %d: status points %+v", i+1, g.DataPoints)
				}
				status = g.DataPoints[0].Value
			}
			got := want{status: status}
			for o, p := range map[string]*int64{"pass": &got.pass, "fail": &got.fail, "timeout": &got.timeout, "panic": &got.pnc} {
				*p = m.value(grelhealth.MetricRuns, db, attribute.String("outcome", o))
				if n, _ := m.histogram(grelhealth.MetricCheckDuration, db, attribute.String("outcome", o)); int64(n) != *p {
					t.Fatalf("step %d: %d durations %s for %d runs", i+1, n, o, *p)
				}
			}
			_, got.took = m.histogram(grelhealth.MetricCheckDuration, db)
			if got != s.want {
				t.Fatalf("step %d (%s): %+v, want %+v", i+1, s.next, got, s.want)
			}
		}
		if err := c.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, ok := m.get(grelhealth.MetricStatus); ok {
			t.Fatal("the status gauge is still observed after Stop")
		}
		if n := m.value(grelhealth.MetricRuns); n != 5 {
			t.Fatalf("%d runs after Stop, want 5 (a result of the stopped checker is no run)", n)
		}
	})
}

// A check's kind is in its status; a request served from cached results
// runs and measures nothing.
func TestMetricsCached(t *testing.T) {
	m := newMeter(t)
	c := newChecker(t, grelhealth.WithMeterProvider(m.mp), grelhealth.WithTTL(time.Hour))
	mustRegister(t, c, grelhealth.Check{Name: "cache", Func: pass, NonCritical: true})
	if err := c.RegisterLiveness(grelhealth.Check{Name: "loop", Func: pass}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := c.Report(ctx, grelhealth.ScopeAll); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, _ = c.Ready(ctx)
		_, _ = c.Report(ctx, grelhealth.ScopeAll)
	}
	if n := m.value(grelhealth.MetricRuns); n != 2 {
		t.Fatalf("%d runs, want 2 (one per check, then cached)", n)
	}
	for _, tc := range []struct {
		name               string
		critical, liveness bool
	}{{"cache", false, false}, {"loop", true, true}} {
		if v := m.value(grelhealth.MetricStatus, attribute.String("grel.name", tc.name),
			attribute.Bool("critical", tc.critical), attribute.Bool("liveness", tc.liveness)); v != 1 {
			t.Errorf("%s: status %d with critical %v, liveness %v", tc.name, v, tc.critical, tc.liveness)
		}
	}
	if md, _ := m.get(grelhealth.MetricCheckDuration); md.Unit != "s" {
		t.Errorf("duration unit %q", md.Unit)
	}
}

// The probe path allocates nothing on cached results, with a real meter
// provider or the no-op one.
func TestReadyAllocsWithMetrics(t *testing.T) {
	for name, mp := range map[string]grelhealth.Option{
		"no-op": grelhealth.WithMeterProvider(noop.NewMeterProvider()),
		"sdk":   grelhealth.WithMeterProvider(newMeter(t).mp),
	} {
		c := newChecker(t, grelhealth.WithTTL(time.Hour), mp)
		mustRegister(t, c, grelhealth.Check{Name: "a", Func: pass}, grelhealth.Check{Name: "b", Func: pass})
		ctx := t.Context()
		if ok, err := c.Ready(ctx); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if n := testing.AllocsPerRun(1000, func() { _, _ = c.Ready(ctx) }); n != 0 {
			t.Errorf("%s: Ready allocates %v per call", name, n)
		}
	}
}

// The Module gives its checker the app's meter provider.
func TestModuleMetrics(t *testing.T) {
	var reader *sdkmetric.ManualReader
	var c *grelhealth.Checker
	fxgreltest.Start(t, nil, grelhealth.Module, grelhealth.Supply(grelhealth.Check{Name: "db", Func: pass}),
		fx.Populate(&reader, &c))
	if ok, err := c.Ready(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	rm := fxgreltest.CollectMetrics(t, reader)
	for _, name := range []string{grelhealth.MetricRuns, grelhealth.MetricStatus, grelhealth.MetricCheckDuration} {
		if _, ok := fxgreltest.FindMetric(rm, name); !ok {
			t.Errorf("no %s in the app's metrics", name)
		}
	}
}
