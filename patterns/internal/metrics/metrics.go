// Package metrics is what the pattern packages share to emit OpenTelemetry
// metrics: the no-op check made once at construction, attribute options
// built once so that a measurement allocates nothing, and callbacks of
// observable instruments that do not keep their instance alive.
//
// A pattern keeps a nil telemetry value when its meter provider is the
// no-op one, so that its hot path pays one nil check for metrics and
// nothing else.
package metrics

import (
	"context"
	"runtime"
	"sync"
	"weak"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// IsNoop reports whether mp records nothing: nil, or the OpenTelemetry
// no-op provider (the one greltrace returns when metrics are off).
func IsNoop(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case nil, noop.MeterProvider, *noop.MeterProvider:
		return true
	}
	return false
}

// Meter returns mp's meter for scope, or nil when mp records nothing.
func Meter(mp metric.MeterProvider, scope string) metric.Meter {
	if IsNoop(mp) {
		return nil
	}
	return mp.Meter(scope)
}

// Opts are the options of one attribute set, for each kind of
// measurement, built once: a measurement made with them allocates nothing
// (a variadic option passed one by one would).
type Opts struct {
	Add     []metric.AddOption
	Record  []metric.RecordOption
	Observe []metric.ObserveOption
}

// Attrs returns the options that measure with base and more. base is not
// changed.
func Attrs(base []attribute.KeyValue, more ...attribute.KeyValue) Opts {
	all := make([]attribute.KeyValue, 0, len(base)+len(more))
	all = append(append(all, base...), more...)
	o := metric.WithAttributeSet(attribute.NewSet(all...))
	return Opts{Add: []metric.AddOption{o}, Record: []metric.RecordOption{o}, Observe: []metric.ObserveOption{o}}
}

// Seconds are the histogram bounds of durations in seconds, from 1ms to
// 30s: a lock wait, a queue wait, a health check.
var Seconds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Callback is the registration of an observable instruments' callback. Its
// methods are safe on a nil *Callback (no meter: nothing registered).
type Callback struct {
	once sync.Once
	reg  metric.Registration
	err  error
}

// Stop unregisters the callback; later calls do nothing and return the
// first one's error.
func (c *Callback) Stop() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() { c.err = c.reg.Unregister() })
	return c.err
}

// Observe registers fn as the callback of insts on m. The callback holds v
// weakly: fn is called with v while v is reachable, and once v is garbage
// collected the callback is unregistered, so an instance dropped without
// being closed neither stays alive through the meter provider nor keeps
// being observed. fn must reach v only through its argument (a closure that
// captures v keeps it alive). Call Stop to unregister earlier.
func Observe[T any](m metric.Meter, v *T, fn func(v *T, o metric.Observer), insts ...metric.Observable) (*Callback, error) {
	wp := weak.Make(v)
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if v := wp.Value(); v != nil {
			fn(v, o)
		}
		return nil
	}, insts...)
	if err != nil {
		return nil, err
	}
	c := &Callback{reg: reg}
	runtime.AddCleanup(v, func(c *Callback) { _ = c.Stop() }, c)
	return c, nil
}
