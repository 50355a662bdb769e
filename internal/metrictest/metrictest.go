// Package metrictest reads the metrics a pattern emits in its tests: a
// meter provider over a manual reader, and the values of one metric summed
// over the data points that carry given attributes.
package metrictest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Reader is a meter provider and what it recorded.
type Reader struct {
	t        testing.TB
	reader   *sdkmetric.ManualReader
	Provider *sdkmetric.MeterProvider
}

// New returns a Reader whose provider is shut down when the test ends.
func New(t testing.TB) *Reader {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &Reader{t: t, reader: r, Provider: mp}
}

// Metrics collects every metric recorded so far, by name.
func (r *Reader) Metrics() map[string]metricdata.Metrics {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatalf("metrictest: collect: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Has reports whether name was recorded (or observed) at all.
func (r *Reader) Has(name string) bool {
	r.t.Helper()
	_, ok := r.Metrics()[name]
	return ok
}

// Int returns the sum of the values of the int64 counter, up-down counter
// or gauge name over its data points that carry every attribute of attrs:
// 0 when none does, or when name was never recorded (use [Reader.Has] to
// tell). It fails the test when name is of another kind.
func (r *Reader) Int(name string, attrs ...attribute.KeyValue) int64 {
	r.t.Helper()
	m, ok := r.Metrics()[name]
	if !ok {
		return 0
	}
	var pts []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		pts = d.DataPoints
	case metricdata.Gauge[int64]:
		pts = d.DataPoints
	default:
		r.t.Fatalf("metrictest: %s is a %T, not an int64 sum or gauge", name, d)
	}
	var v int64
	for _, p := range pts {
		if carries(p.Attributes, attrs) {
			v += p.Value
		}
	}
	return v
}

// Count returns the number of measurements of the float64 histogram name
// over its data points that carry every attribute of attrs, and their sum
// (0 and 0 when name was never recorded).
func (r *Reader) Count(name string, attrs ...attribute.KeyValue) (n uint64, sum float64) {
	r.t.Helper()
	m, ok := r.Metrics()[name]
	if !ok {
		return 0, 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		r.t.Fatalf("metrictest: %s is a %T, not a float64 histogram", name, m.Data)
	}
	for _, p := range h.DataPoints {
		if carries(p.Attributes, attrs) {
			n += p.Count
			sum += p.Sum
		}
	}
	return n, sum
}

// Sets returns the attribute sets of name's data points.
func (r *Reader) Sets(name string) []attribute.Set {
	r.t.Helper()
	var out []attribute.Set
	switch d := r.get(name).Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	default:
		r.t.Fatalf("metrictest: %s is a %T", name, d)
	}
	return out
}

func (r *Reader) get(name string) metricdata.Metrics {
	r.t.Helper()
	m, ok := r.Metrics()[name]
	if !ok {
		r.t.Fatalf("metrictest: no metric %s", name)
	}
	return m
}

func carries(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}
