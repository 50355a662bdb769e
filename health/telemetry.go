package grelhealth

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"weak"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ScopeName is the OpenTelemetry instrumentation scope of the checker's
// metrics.
const ScopeName = "github.com/grelmicro/grelmicro-go/health"

// The checker's metrics, all with the check's name as grel.name (see the
// package documentation).
const (
	// MetricStatus is the gauge of each check's latest result, 1 passing
	// and 0 failing, read at collection, with the attributes critical and
	// liveness. A check without a result yet has no point.
	MetricStatus = "grel.health.status"
	// MetricRuns counts the runs of each check by outcome: pass, fail,
	// timeout or panic.
	MetricRuns = "grel.health.runs"
	// MetricCheckDuration is the histogram of the runs' durations in
	// seconds, by the same outcome.
	MetricCheckDuration = "grel.health.check_duration"
)

type runOutcome uint8

const (
	runPass runOutcome = iota
	runFail
	runTimeout
	runPanic
	runOutcomes
)

var runNames = [runOutcomes]string{"pass", "fail", "timeout", "panic"}

// durationBounds are the histogram bounds of a run, in seconds: from 1ms to
// 30s (the default timeout is 5s).
var durationBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// telemetry holds the checker's instruments. A checker with the no-op
// meter provider has none (nil). Nothing is measured on a request served
// from cached results: runs are counted as they end, the status is read at
// collection.
type telemetry struct {
	runs     metric.Int64Counter
	duration metric.Float64Histogram
	status   metric.Int64ObservableGauge
	reg      metric.Registration
	stopOnce sync.Once
}

// entryOpts are one check's attribute options, built at its registration.
type entryOpts struct {
	add    [runOutcomes][]metric.AddOption
	record [runOutcomes][]metric.RecordOption
	status []metric.ObserveOption
}

func isNoopMeter(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case nil, noop.MeterProvider, *noop.MeterProvider:
		return true
	}
	return false
}

func newTelemetry(mp metric.MeterProvider, c *Checker) (*telemetry, error) {
	if isNoopMeter(mp) {
		return nil, nil
	}
	m := mp.Meter(ScopeName)
	t := &telemetry{}
	var err error
	if t.runs, err = m.Int64Counter(MetricRuns, metric.WithUnit("{run}"),
		metric.WithDescription("Runs of a health check, by outcome: pass, fail, timeout or panic")); err != nil {
		return nil, err
	}
	if t.duration, err = m.Float64Histogram(MetricCheckDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of the runs of a health check, by outcome"),
		metric.WithExplicitBucketBoundaries(durationBounds...)); err != nil {
		return nil, err
	}
	if t.status, err = m.Int64ObservableGauge(MetricStatus,
		metric.WithDescription("Latest result of a health check: 1 passing, 0 failing")); err != nil {
		return nil, err
	}
	// The callback holds the checker weakly, so that a checker dropped
	// without Stop is neither kept alive nor observed forever.
	wc := weak.Make(c)
	status := t.status
	if t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if c := wc.Value(); c != nil {
			c.observeStatus(o, status)
		}
		return nil
	}, t.status); err != nil {
		return nil, err
	}
	runtime.AddCleanup(c, func(t *telemetry) { t.stop() }, t)
	return t, nil
}

func (t *telemetry) stop() {
	if t != nil {
		t.stopOnce.Do(func() { _ = t.reg.Unregister() })
	}
}

func (t *telemetry) optsFor(e *entry) *entryOpts {
	if t == nil {
		return nil
	}
	base := []attribute.KeyValue{attribute.String("grel.name", e.name)}
	o := &entryOpts{}
	for r := range runOutcomes {
		set := attribute.NewSet(append(append([]attribute.KeyValue{}, base...), attribute.String("outcome", runNames[r]))...)
		opt := metric.WithAttributeSet(set)
		o.add[r], o.record[r] = []metric.AddOption{opt}, []metric.RecordOption{opt}
	}
	o.status = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(append(base,
		attribute.Bool("critical", e.critical), attribute.Bool("liveness", e.liveness))...))}
	return o
}

// observeStatus observes the latest result of every check.
func (c *Checker) observeStatus(o metric.Observer, g metric.Int64ObservableGauge) {
	for _, e := range c.set.Load().all {
		last := e.last.Load()
		if last == nil || e.opts == nil {
			continue
		}
		v := int64(0)
		if last.Status == StatusPass {
			v = 1
		}
		o.ObserveInt64(g, v, e.opts.status...)
	}
}

// ran records the end of one run: its outcome and duration. A run cut by
// Stop is not counted.
func (e *entry) ran(res *outcome) {
	t := e.c.tel
	if t == nil || errors.Is(res.Err, ErrStopped) {
		return
	}
	r := runFail
	var te *TimeoutError
	var pe *PanicError
	switch {
	case res.Err == nil:
		r = runPass
	case errors.As(res.Err, &te):
		r = runTimeout
	case errors.As(res.Err, &pe):
		r = runPanic
	}
	ctx := context.Background()
	t.duration.Record(ctx, res.Duration.Seconds(), e.opts.record[r]...)
	t.runs.Add(ctx, 1, e.opts.add[r]...)
}
