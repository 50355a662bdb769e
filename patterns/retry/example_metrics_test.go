package grelretry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r, _ := grelretry.NewFromConfig("payments", grelretry.DefaultConfig(),
		grelretry.WithInitialDelay(time.Millisecond), grelretry.WithMeterProvider(mp))
	n := 0
	_ = r.Do(context.Background(), func(context.Context) error {
		if n++; n < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		p := m.Data.(metricdata.Sum[int64]).DataPoints[0]
		if outcome, ok := p.Attributes.Value("outcome"); ok {
			fmt.Println(m.Name, p.Value, outcome.AsString())
		} else {
			fmt.Println(m.Name, p.Value)
		}
	}
	// Output:
	// grel.retry.calls 1 success
	// grel.retry.retries 2
}
