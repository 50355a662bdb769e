package grelbreaker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func attr(set attribute.Set, key string) string {
	v, _ := set.Value(attribute.Key(key))
	return v.AsString()
}

func callsByOutcome(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	sum, ok := collect(t, reader)["grel.breaker.calls"].(metricdata.Sum[int64])
	if !ok {
		t.Fatal("no grel.breaker.calls")
	}
	for _, dp := range sum.DataPoints {
		out[attr(dp.Attributes, "outcome")] += dp.Value
	}
	return out
}

func gauge(t *testing.T, reader *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	g, ok := collect(t, reader)[name].(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 {
		t.Fatalf("no gauge %s", name)
	}
	return g.DataPoints[0].Value
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	b := mustNew(t, nil, grelbreaker.WithMeterProvider(mp), grelbreaker.WithFailureThreshold(2))
	// The state gauge is there from the start, before any call.
	if s := gauge(t, reader, "grel.breaker.state"); s != 0 {
		t.Fatalf("state %d", s)
	}
	ctx := context.Background()
	_ = b.Execute(ctx, func(context.Context) error { return nil })
	_ = b.Execute(ctx, func(context.Context) error { return errDown })
	_ = b.Execute(ctx, func(context.Context) error { return errDown })
	_ = b.Execute(ctx, func(context.Context) error { return nil })
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = b.Close(ctx)
	_ = b.Execute(cctx, func(ctx context.Context) error { return ctx.Err() })
	got := callsByOutcome(t, reader)
	if got["success"] != 1 || got["failure"] != 2 || got["rejected"] != 1 || got["ignored"] != 1 {
		t.Fatalf("calls %v", got)
	}
	if s := gauge(t, reader, "grel.breaker.state"); s != 0 {
		t.Fatalf("state %d after Close", s)
	}
	tr, ok := collect(t, reader)["grel.breaker.transitions"].(metricdata.Sum[int64])
	if !ok || len(tr.DataPoints) != 2 {
		t.Fatalf("transitions %+v", tr)
	}
	for _, dp := range tr.DataPoints {
		if attr(dp.Attributes, "grel.name") != "test" || dp.Value != 1 {
			t.Fatalf("transition point %+v", dp)
		}
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := collect(t, reader)["grel.breaker.state"]; ok {
		t.Fatal("gauge still observed after Stop")
	}
}

// The repro of a stale-outcome bug: six calls admitted while closed finish
// after the breaker opened and closed again. They are in the metrics but
// not in the counts, and one fresh failure does not trip a breaker that
// needs four calls.
func TestStaleOutcomesCountInMetricsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		b := mustNew(t, nil, grelbreaker.WithMeterProvider(mp), grelbreaker.WithAlgorithm(grelbreaker.TimeWindow),
			grelbreaker.WithWindow(10*time.Second), grelbreaker.WithMinCalls(4), grelbreaker.WithFailureRate(50),
			grelbreaker.WithOpenDuration(time.Second))
		ctx := context.Background()
		var old []func(error)
		for range 6 {
			done, err := b.Allow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			old = append(old, done)
		}
		_ = b.Open(ctx)
		time.Sleep(time.Second)
		if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if b.State() != grelbreaker.StateClosed {
			t.Fatalf("state %s after the trial", b.State())
		}
		for _, done := range old {
			done(errDown)
		}
		if c := b.Counts(); c.Failures != 0 || c.WindowCalls != 0 {
			t.Errorf("counts after six stale failures: %+v", c)
		}
		_ = b.Execute(ctx, func(context.Context) error { return errDown })
		if b.State() != grelbreaker.StateClosed {
			t.Errorf("one fresh failure tripped a breaker with MinCalls 4: %s", b.State())
		}
		if c := b.Counts(); c.Failures != 1 || c.WindowCalls != 1 || c.WindowFailures != 1 {
			t.Errorf("counts %+v, want the fresh failure only", c)
		}
		if got := callsByOutcome(t, reader); got["failure"] != 7 || got["success"] != 1 {
			t.Errorf("metrics %v, want 7 failures (6 stale) and 1 success", got)
		}
	})
}
