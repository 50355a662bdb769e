package grelretry

import (
	"context"

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

// telemetry holds a retrier's instruments and their attribute options,
// built once. A retrier with the no-op meter provider has none (nil).
type telemetry struct {
	calls   metric.Int64Counter
	retries metric.Int64Counter
	byOut   [outcomes][]metric.AddOption
	plain   []metric.AddOption
}

func newTelemetry(mp metric.MeterProvider, name string) (*telemetry, error) {
	m := metrics.Meter(mp, TracerName)
	if m == nil {
		return nil, nil
	}
	calls, err := m.Int64Counter(MetricCalls, metric.WithUnit("{call}"),
		metric.WithDescription("Calls of the retrier, by outcome: success, exhausted (with the reason it gave up) or aborted (an error not retried)"))
	if err != nil {
		return nil, err
	}
	retries, err := m.Int64Counter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts after the first, counted as they start"))
	if err != nil {
		return nil, err
	}
	base := []attribute.KeyValue{attribute.String("grel.name", name)}
	t := &telemetry{calls: calls, retries: retries, plain: metrics.Attrs(base).Add}
	t.byOut[outSuccess] = metrics.Attrs(base, attribute.String("outcome", "success")).Add
	t.byOut[outAborted] = metrics.Attrs(base, attribute.String("outcome", "aborted")).Add
	for o, reason := range map[outcome]string{outMaxAttempts: "max_attempts", outMaxElapsed: "max_elapsed", outDeadline: "deadline", outContext: "context"} {
		t.byOut[o] = metrics.Attrs(base, attribute.String("outcome", "exhausted"), attribute.String("reason", reason)).Add
	}
	return t, nil
}

func (t *telemetry) call(ctx context.Context, o outcome) { t.calls.Add(ctx, 1, t.byOut[o]...) }

func (t *telemetry) retry(ctx context.Context) { t.retries.Add(ctx, 1, t.plain...) }
