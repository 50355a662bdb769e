package grelbreaker_test

import (
	"context"
	"testing"

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
