package greltrace

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// Run runs fn inside a span named name, started from ctx with attrs. A
// non-nil error from fn is recorded on the span and sets its status to
// Error; a panic is recorded the same way, the span is ended, and the panic
// goes on. fn's error is returned as it is.
func Run(ctx context.Context, tracer trace.Tracer, name string, fn func(context.Context) error, attrs ...attribute.KeyValue) error {
	_, err := RunValue(ctx, tracer, name, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, attrs...)
	return err
}

// RunValue is [Run] for a function that returns a value.
func RunValue[T any](ctx context.Context, tracer trace.Tracer, name string, fn func(context.Context) (T, error), attrs ...attribute.KeyValue) (v T, err error) {
	var opts []trace.SpanStartOption
	if len(attrs) > 0 {
		opts = []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	}
	ctx, span := tracer.Start(ctx, name, opts...)
	defer func() {
		if r := recover(); r != nil {
			perr := fmt.Errorf("panic: %v", r)
			span.RecordError(perr, trace.WithStackTrace(true))
			span.SetStatus(codes.Error, perr.Error())
			span.End()
			panic(r)
		}
		span.End()
	}()
	v, err = fn(ctx)
	if err != nil {
		RecordError(span, err)
	}
	return v, err
}

// RecordError records err on span and sets the span's status to Error with
// err's message. A nil err does nothing.
func RecordError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// Annotate sets attrs on the span of ctx (if it records) and returns a
// context that carries them as log fields too, so grellog.Ctx,
// grellog.Context and the slog handler add them to every line logged with
// it. Use it for what identifies the work: an order id, a tenant, a key.
func Annotate(ctx context.Context, attrs ...attribute.KeyValue) context.Context {
	if len(attrs) == 0 {
		return ctx
	}
	trace.SpanFromContext(ctx).SetAttributes(attrs...)
	fields := make([]zap.Field, 0, len(attrs))
	for _, a := range attrs {
		fields = append(fields, Field(a))
	}
	return grellog.ContextWith(ctx, fields...)
}

// Field converts an attribute to the zap field of the same key and value.
func Field(a attribute.KeyValue) zap.Field {
	k := string(a.Key)
	switch a.Value.Type() {
	case attribute.BOOL:
		return zap.Bool(k, a.Value.AsBool())
	case attribute.INT64:
		return zap.Int64(k, a.Value.AsInt64())
	case attribute.FLOAT64:
		return zap.Float64(k, a.Value.AsFloat64())
	case attribute.STRING:
		return zap.String(k, a.Value.AsString())
	case attribute.BOOLSLICE:
		return zap.Bools(k, a.Value.AsBoolSlice())
	case attribute.INT64SLICE:
		return zap.Int64s(k, a.Value.AsInt64Slice())
	case attribute.FLOAT64SLICE:
		return zap.Float64s(k, a.Value.AsFloat64Slice())
	case attribute.STRINGSLICE:
		return zap.Strings(k, a.Value.AsStringSlice())
	}
	return zap.String(k, a.Value.String())
}

// IsNoop reports whether tp creates no recording spans: nil, or the
// OpenTelemetry no-op provider that [New] returns when tracing is off.
// Patterns check it once at construction to skip span creation on their
// in-memory hot paths.
func IsNoop(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return true
	}
	return false
}
