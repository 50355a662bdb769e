package greltimeout_test

import (
	"context"
	"fmt"
	"time"

	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t, _ := greltimeout.NewFromConfig("inventory", greltimeout.Config{Duration: time.Millisecond}, greltimeout.WithMeterProvider(mp))
	_ = t.Execute(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	m := rm.ScopeMetrics[0].Metrics[0]
	fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
	// Output: grel.timeout.timeouts 1
}
