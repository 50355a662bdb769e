package grelbulkhead_test

import (
	"context"
	"fmt"

	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b, _ := grelbulkhead.NewFromConfig("reports", grelbulkhead.Config{MaxConcurrent: 1}, grelbulkhead.WithMeterProvider(mp))
	release, _ := b.Acquire(context.Background())
	_ = b.Execute(context.Background(), func(context.Context) error { return nil }) // full: refused
	release()
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Gauge[int64]:
			fmt.Println(m.Name, d.DataPoints[0].Value)
		case metricdata.Sum[int64]:
			reason, _ := d.DataPoints[0].Attributes.Value("reason")
			fmt.Println(m.Name, reason.AsString(), d.DataPoints[0].Value)
		}
	}
	// Output:
	// grel.bulkhead.in_flight 0
	// grel.bulkhead.waiting 0
	// grel.bulkhead.rejections full 1
}
