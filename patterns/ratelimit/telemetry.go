package grelratelimit

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the limiter's spans and
// metrics.
const ScopeName = "github.com/grelmicro/grelmicro-go/patterns/ratelimit"

// MetricDecisions is the counter of decisions (Allow, AllowN and each try
// of Wait; not Peek), with the attributes grel.name, grel.backend,
// allowed, degraded and grel.ratelimit.mode.
const MetricDecisions = "grel.ratelimit.decisions"

type op uint8

const (
	opAllow op = iota
	opPeek
	opReset
)

var opNames = [...]string{"allow", "peek", "reset"}
var spanNames = [...]string{"grel.ratelimit.allow", "grel.ratelimit.peek", "grel.ratelimit.reset"}

func (o op) String() string { return opNames[o] }

type telemetry struct {
	tracer    trace.Tracer // nil when the provider is the no-op one
	baseAttrs []attribute.KeyValue
	decisions metric.Int64Counter // nil when the provider is the no-op one
	// addOpts holds one pre-built option list per (mode, allowed), so that
	// counting allocates nothing.
	addOpts [modeCount][2][]metric.AddOption
}

func (t *telemetry) init(name, backend string, tp trace.TracerProvider, mp metric.MeterProvider) error {
	t.baseAttrs = []attribute.KeyValue{
		attribute.String("grel.pattern", "ratelimit"),
		attribute.String("grel.name", name),
		attribute.String("grel.backend", backend),
	}
	if tp != nil && !isNoopTracer(tp) {
		t.tracer = tp.Tracer(ScopeName)
	}
	if mp == nil || isNoopMeter(mp) {
		return nil
	}
	c, err := mp.Meter(ScopeName).Int64Counter(MetricDecisions,
		metric.WithDescription("Rate limit decisions, by outcome and by whether the store failed"),
		metric.WithUnit("{decision}"))
	if err != nil {
		return err
	}
	t.decisions = c
	for m := range modeCount {
		for a := range 2 {
			set := attribute.NewSet(
				attribute.String("grel.name", name),
				attribute.String("grel.backend", backend),
				attribute.Bool("allowed", a == 1),
				attribute.Bool("degraded", m != ModeNormal),
				attribute.String("grel.ratelimit.mode", m.String()),
			)
			t.addOpts[m][a] = []metric.AddOption{metric.WithAttributeSet(set)}
		}
	}
	return nil
}

func isNoopTracer(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return true
	}
	//lint:ignore SA1019 the deprecated no-op provider is still handed around
	return tp == trace.NewNoopTracerProvider() //nolint:staticcheck
}

func isNoopMeter(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return true
	}
	return false
}

func (t *telemetry) count(ctx context.Context, m Mode, allowed bool) {
	if t.decisions == nil {
		return
	}
	a := 0
	if allowed {
		a = 1
	}
	t.decisions.Add(ctx, 1, t.addOpts[m][a]...)
}

func (t *telemetry) start(ctx context.Context, o op, key string) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, spanNames[o], trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() {
		span.SetAttributes(t.baseAttrs...)
		span.SetAttributes(attribute.String("grel.key", key))
	}
	return ctx, span
}

func (t *telemetry) end(span trace.Span, r Result) {
	if span.IsRecording() {
		span.SetAttributes(
			attribute.Bool("grel.ratelimit.allowed", r.Allowed),
			attribute.Int("grel.ratelimit.remaining", r.Remaining),
			attribute.String("grel.ratelimit.mode", r.Mode.String()),
			attribute.Bool("grel.ratelimit.degraded", r.Degraded()),
		)
	}
	span.End()
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
