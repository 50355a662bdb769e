package grelbulkhead

import (
	"context"
	"time"

	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the OpenTelemetry instrumentation scope of the metrics of
// this package.
const ScopeName = "github.com/grelmicro/grelmicro-go/patterns/bulkhead"

// The bulkhead's metrics, all with the attribute grel.name (see the package
// documentation).
const (
	// MetricInFlight is the gauge of the calls holding a slot, read at
	// collection.
	MetricInFlight = "grel.bulkhead.in_flight"
	// MetricWaiting is the gauge of the calls waiting for a slot, read at
	// collection.
	MetricWaiting = "grel.bulkhead.waiting"
	// MetricRejections counts the calls refused with a [*FullError], by
	// reason: full (no room in the queue) or max_wait (queued for MaxWait).
	MetricRejections = "grel.bulkhead.rejections"
	// MetricQueueWait is the histogram of the time calls spent queued for a
	// slot, in seconds, by outcome: admitted, rejected (MaxWait) or canceled
	// (their context ended). Calls that found a slot at once are not in it.
	MetricQueueWait = "grel.bulkhead.queue_wait"
)

// waitOutcome is how a queued call left the queue.
type waitOutcome uint8

const (
	waitAdmitted waitOutcome = iota
	waitRejected
	waitCanceled
	waitOutcomes
)

// telemetry holds a bulkhead's instruments. A bulkhead with the no-op meter
// provider has none (nil); the gauges cost a call nothing either way.
type telemetry struct {
	rejections metric.Int64Counter
	queueWait  metric.Float64Histogram
	full       []metric.AddOption
	maxWait    []metric.AddOption
	waited     [waitOutcomes][]metric.RecordOption
	gauges     *metrics.Callback
}

func newTelemetry(mp metric.MeterProvider, b *Bulkhead) (*telemetry, error) {
	m := metrics.Meter(mp, ScopeName)
	if m == nil {
		return nil, nil
	}
	inFlight, err := m.Int64ObservableGauge(MetricInFlight, metric.WithUnit("{call}"),
		metric.WithDescription("Calls holding a slot of the bulkhead"))
	if err != nil {
		return nil, err
	}
	waiting, err := m.Int64ObservableGauge(MetricWaiting, metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for a slot of the bulkhead"))
	if err != nil {
		return nil, err
	}
	rejections, err := m.Int64Counter(MetricRejections, metric.WithUnit("{call}"),
		metric.WithDescription("Calls refused by the bulkhead, by reason: full or max_wait"))
	if err != nil {
		return nil, err
	}
	queueWait, err := m.Float64Histogram(MetricQueueWait, metric.WithUnit("s"),
		metric.WithDescription("Time calls spent queued for a slot, by outcome: admitted, rejected or canceled"),
		metric.WithExplicitBucketBoundaries(metrics.Seconds...))
	if err != nil {
		return nil, err
	}
	base := []attribute.KeyValue{attribute.String("grel.name", b.name)}
	t := &telemetry{
		rejections: rejections,
		queueWait:  queueWait,
		full:       metrics.Attrs(base, attribute.String("reason", "full")).Add,
		maxWait:    metrics.Attrs(base, attribute.String("reason", "max_wait")).Add,
	}
	for o, name := range [waitOutcomes]string{"admitted", "rejected", "canceled"} {
		t.waited[o] = metrics.Attrs(base, attribute.String("outcome", name)).Record
	}
	plain := metrics.Attrs(base).Observe
	t.gauges, err = metrics.Observe(m, b, func(b *Bulkhead, o metric.Observer) {
		o.ObserveInt64(inFlight, b.inflight.Load(), plain...)
		o.ObserveInt64(waiting, b.nwait.Load(), plain...)
	}, inFlight, waiting)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// rejectedFull counts a call refused without queueing.
func (t *telemetry) rejectedFull(ctx context.Context) {
	if t != nil {
		t.rejections.Add(ctx, 1, t.full...)
	}
}

// dequeued records a queued call's wait; a rejected one is counted too.
func (t *telemetry) dequeued(ctx context.Context, o waitOutcome, d time.Duration) {
	if t == nil {
		return
	}
	t.queueWait.Record(ctx, d.Seconds(), t.waited[o]...)
	if o == waitRejected {
		t.rejections.Add(ctx, 1, t.maxWait...)
	}
}
