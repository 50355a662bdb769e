package grellock_test

import (
	"context"
	"fmt"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	l, _ := grellock.New("cart", grellock.NewMemory(), noEnv, grellock.WithMeterProvider(mp))
	h, _ := l.TryAcquire(context.Background())
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			outcome, _ := d.DataPoints[0].Attributes.Value("outcome")
			fmt.Println(m.Name, outcome.AsString(), d.DataPoints[0].Value)
		case metricdata.Gauge[int64]:
			fmt.Println(m.Name, d.DataPoints[0].Value)
		}
	}
	_ = h.Release(context.Background())
	// Output:
	// grel.lock.acquisitions acquired 1
	// grel.lock.held 1
}
