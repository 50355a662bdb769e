package grelfallback_test

import (
	"context"
	"errors"
	"fmt"

	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := grelfallback.Value(0.0, grelfallback.WithName("prices"), grelfallback.WithMeterProvider(mp))
	price, _ := f.Execute(context.Background(), func(context.Context) (float64, error) { return 0, errors.New("down") })
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	m := rm.ScopeMetrics[0].Metrics[0]
	p := m.Data.(metricdata.Sum[int64]).DataPoints[0]
	name, _ := p.Attributes.Value("grel.name")
	fmt.Println(price, m.Name, name.AsString(), p.Value)
	// Output: 0 grel.fallback.fallbacks prices 1
}
