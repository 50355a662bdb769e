package metrics_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

func TestIsNoop(t *testing.T) {
	np := noop.NewMeterProvider()
	tests := []struct {
		name string
		mp   metric.MeterProvider
		want bool
	}{
		{"nil", nil, true},
		{"no-op value", np, true},
		{"no-op pointer", &np, true},
		{"sdk", metrictest.New(t).Provider, false},
	}
	for _, tt := range tests {
		if got := metrics.IsNoop(tt.mp); got != tt.want {
			t.Errorf("%s: IsNoop %v, want %v", tt.name, got, tt.want)
		}
		if got := metrics.Meter(tt.mp, "s") == nil; got != tt.want {
			t.Errorf("%s: Meter nil %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAttrsLeavesBaseAlone(t *testing.T) {
	r := metrictest.New(t)
	c, err := r.Provider.Meter("s").Int64Counter("grel.test.count")
	if err != nil {
		t.Fatal(err)
	}
	base := make([]attribute.KeyValue, 1, 4) // room to append in place
	base[0] = attribute.String("grel.name", "a")
	yes := metrics.Attrs(base, attribute.String("outcome", "yes"))
	no := metrics.Attrs(base, attribute.String("outcome", "no"))
	ctx := context.Background()
	c.Add(ctx, 1, yes.Add...)
	c.Add(ctx, 2, no.Add...)
	if n := r.Int("grel.test.count", attribute.String("outcome", "yes")); n != 1 {
		t.Fatalf("yes %d, want 1", n)
	}
	if n := r.Int("grel.test.count", attribute.String("grel.name", "a")); n != 3 {
		t.Fatalf("all %d, want 3", n)
	}
	if len(base) != 1 {
		t.Fatalf("base changed: %v", base)
	}
	if n := testing.AllocsPerRun(100, func() { c.Add(ctx, 1, yes.Add...) }); n != 0 {
		t.Fatalf("Add with a pre-built set: %v allocs", n)
	}
	h, err := r.Provider.Meter("s").Float64Histogram("grel.test.seconds", metric.WithExplicitBucketBoundaries(metrics.Seconds...))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { h.Record(ctx, 0.02, yes.Record...) }); n != 0 {
		t.Fatalf("Record with a pre-built set: %v allocs", n)
	}
}

type thing struct {
	n int64
	_ [64]byte // not a tiny allocation: cleanups of tiny ones may never run
}

func TestObserve(t *testing.T) {
	r := metrictest.New(t)
	m := r.Provider.Meter("s")
	g, err := m.Int64ObservableGauge("grel.test.gauge")
	if err != nil {
		t.Fatal(err)
	}
	v := &thing{n: 7}
	cb, err := metrics.Observe(m, v, func(v *thing, o metric.Observer) { o.ObserveInt64(g, v.n) }, g)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Int("grel.test.gauge"); n != 7 {
		t.Fatalf("gauge %d, want 7", n)
	}
	v.n = 9
	if n := r.Int("grel.test.gauge"); n != 9 {
		t.Fatalf("gauge %d, want 9", n)
	}
	if err := cb.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Stop(); err != nil {
		t.Fatal(err)
	}
	if r.Has("grel.test.gauge") {
		t.Fatal("observed after Stop")
	}
	runtime.KeepAlive(v)
	var none *metrics.Callback
	if err := none.Stop(); err != nil {
		t.Fatal(err)
	}
}

// An instance dropped without Stop is collected (the callback does not keep
// it alive) and its callback is unregistered.
func TestObserveDoesNotKeepAlive(t *testing.T) {
	r := metrictest.New(t)
	m := r.Provider.Meter("s")
	g, err := m.Int64ObservableGauge("grel.test.gauge")
	if err != nil {
		t.Fatal(err)
	}
	collected := make(chan struct{})
	func() {
		v := &thing{n: 1}
		runtime.AddCleanup(v, func(ch chan struct{}) { close(ch) }, collected)
		if _, err := metrics.Observe(m, v, func(v *thing, o metric.Observer) { o.ObserveInt64(g, v.n) }, g); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
		case <-deadline:
			t.Fatal("the instance was never collected: the callback keeps it alive")
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	// The cleanup that unregisters runs on its own goroutine too.
	for start := time.Now(); r.Has("grel.test.gauge"); {
		if time.Since(start) > 10*time.Second {
			t.Fatal("still observed after the instance was collected")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
