package metrictest_test

import (
	"context"
	"testing"

	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestReader(t *testing.T) {
	r := metrictest.New(t)
	m := r.Provider.Meter("s")
	c, _ := m.Int64Counter("grel.test.count")
	h, _ := m.Float64Histogram("grel.test.seconds")
	ctx := context.Background()
	a, b := attribute.String("k", "a"), attribute.String("k", "b")
	c.Add(ctx, 2, metric.WithAttributes(a, attribute.Bool("x", true)))
	c.Add(ctx, 3, metric.WithAttributes(b))
	h.Record(ctx, 0.5, metric.WithAttributes(a))
	h.Record(ctx, 1.5, metric.WithAttributes(a))
	h.Record(ctx, 4, metric.WithAttributes(b))
	tests := []struct {
		name string
		got  int64
		want int64
	}{
		{"every point", r.Int("grel.test.count"), 5},
		{"by one attribute", r.Int("grel.test.count", a), 2},
		{"by two", r.Int("grel.test.count", a, attribute.Bool("x", true)), 2},
		{"a value no point has", r.Int("grel.test.count", attribute.String("k", "c")), 0},
		{"a key no point has", r.Int("grel.test.count", attribute.String("y", "a")), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if n, sum := r.Count("grel.test.seconds", a); n != 2 || sum != 2 {
		t.Errorf("histogram of a: %d measurements summing to %v, want 2 and 2", n, sum)
	}
	if len(r.Sets("grel.test.count")) != 2 {
		t.Errorf("sets %v", r.Sets("grel.test.count"))
	}
	if !r.Has("grel.test.count") || r.Has("grel.test.none") {
		t.Error("Has")
	}
	if v := r.Int("grel.test.none"); v != 0 {
		t.Errorf("a metric never recorded: %d", v)
	}
	if n, _ := r.Count("grel.test.none"); n != 0 {
		t.Errorf("a histogram never recorded: %d", n)
	}
}
