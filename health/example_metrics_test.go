package grelhealth_test

import (
	"context"
	"fmt"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, _ := grelhealth.NewFromConfig(grelhealth.DefaultConfig(), grelhealth.WithMeterProvider(mp))
	defer func() { _ = c.Stop(context.Background()) }()
	_ = c.Register(grelhealth.Check{Name: "db", Func: func(context.Context) error { return nil }})
	_, _ = c.Ready(context.Background())
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			outcome, _ := d.DataPoints[0].Attributes.Value("outcome")
			fmt.Println(m.Name, outcome.AsString(), d.DataPoints[0].Value)
		case metricdata.Gauge[int64]:
			name, _ := d.DataPoints[0].Attributes.Value("grel.name")
			fmt.Println(m.Name, name.AsString(), d.DataPoints[0].Value)
		case metricdata.Histogram[float64]:
			fmt.Println(m.Name, d.DataPoints[0].Count)
		}
	}
	// Output:
	// grel.health.runs pass 1
	// grel.health.check_duration 1
	// grel.health.status db 1
}
