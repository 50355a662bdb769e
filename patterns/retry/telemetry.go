package grelretry

import (
	"sync/atomic"

	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The retrier's metrics (see the package documentation).
const (
	// MetricCalls counts the calls of Do and DoValue by outcome: success,
	// exhausted (a [*RetryError], with its reason) or aborted (an error
	// that was not retried).
	MetricCalls = "grel.retry.calls"
	// MetricRetries counts the retries: the attempts after the first, as
	// they start.
	MetricRetries = "grel.retry.retries"
)

// outcome is how a call of Do ended, for grel.retry.calls.
type outcome uint8

const (
	outSuccess outcome = iota
	outAborted
	outMaxAttempts // exhausted, by reason from here on
	outMaxElapsed
	outDeadline
	outContext
	outcomes
)

func exhausted(r StopReason) outcome {
	switch r {
	case StopMaxAttempts:
		return outMaxAttempts
	case StopMaxElapsed:
		return outMaxElapsed
	case StopDeadline:
		return outDeadline
	}
	return outContext
}

// telemetry holds a retrier's counts, observed at collection: a call pays
// one atomic add for metrics. A retrier with the no-op meter provider has
// none (nil).
type telemetry struct {
	calls   [outcomes]atomic.Int64
	retries atomic.Int64
	cb      *metrics.Callback
}

func newTelemetry(mp metric.MeterProvider, name string) (*telemetry, error) {
	m := metrics.Meter(mp, TracerName)
	if m == nil {
		return nil, nil
	}
	calls, err := m.Int64ObservableCounter(MetricCalls, metric.WithUnit("{call}"),
		metric.WithDescription("Calls of the retrier, by outcome: success, exhausted (with the reason it gave up) or aborted (an error not retried)"))
	if err != nil {
		return nil, err
	}
	retries, err := m.Int64ObservableCounter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts after the first, counted as they start"))
	if err != nil {
		return nil, err
	}
	base := []attribute.KeyValue{attribute.String("grel.name", name)}
	var byOut [outcomes][]metric.ObserveOption
	byOut[outSuccess] = metrics.Attrs(base, attribute.String("outcome", "success")).Observe
	byOut[outAborted] = metrics.Attrs(base, attribute.String("outcome", "aborted")).Observe
	for o, reason := range map[outcome]string{outMaxAttempts: "max_attempts", outMaxElapsed: "max_elapsed", outDeadline: "deadline", outContext: "context"} {
		byOut[o] = metrics.Attrs(base, attribute.String("outcome", "exhausted"), attribute.String("reason", reason)).Observe
	}
	plain := metrics.Attrs(base).Observe
	t := &telemetry{}
	// Like a synchronous counter, a series shows from its first count on.
	t.cb, err = metrics.Observe(m, t, func(t *telemetry, o metric.Observer) {
		for i := range t.calls {
			if n := t.calls[i].Load(); n > 0 {
				o.ObserveInt64(calls, n, byOut[i]...)
			}
		}
		if n := t.retries.Load(); n > 0 {
			o.ObserveInt64(retries, n, plain...)
		}
	}, calls, retries)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *telemetry) call(o outcome) { t.calls[o].Add(1) }

func (t *telemetry) retry() { t.retries.Add(1) }
