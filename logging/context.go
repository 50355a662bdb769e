package grellog

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type fieldsKey struct{}

// ContextWith returns a copy of ctx that carries fields for the logs written
// with it ([Ctx], [Context] and the [Slog] handler add them). A field whose
// key is already carried replaces the earlier one. greltrace.Annotate calls
// it with the attributes it sets on the span.
func ContextWith(ctx context.Context, fields ...zap.Field) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	prev := ContextFields(ctx)
	merged := make([]zap.Field, 0, len(prev)+len(fields))
	for _, f := range prev {
		if !hasKey(fields, f.Key) {
			merged = append(merged, f)
		}
	}
	for i, f := range fields {
		if !hasKey(fields[i+1:], f.Key) {
			merged = append(merged, f)
		}
	}
	return context.WithValue(ctx, fieldsKey{}, merged)
}

func hasKey(fields []zap.Field, key string) bool {
	for _, f := range fields {
		if f.Key == key {
			return true
		}
	}
	return false
}

// ContextFields returns the fields ctx carries from [ContextWith] (not the
// trace ids). The slice must not be modified.
func ContextFields(ctx context.Context) []zap.Field {
	if ctx == nil {
		return nil
	}
	f, _ := ctx.Value(fieldsKey{}).([]zap.Field)
	return f
}

// TraceFields returns trace_id and span_id when ctx carries a valid span
// context, and nothing otherwise.
func TraceFields(ctx context.Context) []zap.Field {
	if ctx == nil {
		return nil
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []zap.Field{zap.String(FieldTraceID, sc.TraceID().String()), zap.String(FieldSpanID, sc.SpanID().String())}
}

// Ctx returns l with the fields of ctx: trace_id and span_id when ctx
// carries a valid span, then the fields of [ContextWith]. It returns l itself
// when ctx carries none. Use it where one logger serves several lines of a
// request; for a single line, [Context] is cheaper.
func Ctx(ctx context.Context, l *zap.Logger) *zap.Logger {
	fields := append(TraceFields(ctx), ContextFields(ctx)...)
	if len(fields) == 0 {
		return l
	}
	return l.With(fields...)
}

// Context returns one field that adds, inline, the fields [Ctx] would add:
//
//	logger.Info("acquired", grellog.Context(ctx), zap.String(grellog.FieldKey, key))
//
// It costs nothing when the entry's level is off.
func Context(ctx context.Context) zap.Field {
	return zap.Inline(contextMarshaler{ctx})
}

type contextMarshaler struct{ ctx context.Context }

func (m contextMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if m.ctx == nil {
		return nil
	}
	if sc := trace.SpanContextFromContext(m.ctx); sc.IsValid() {
		enc.AddString(FieldTraceID, sc.TraceID().String())
		enc.AddString(FieldSpanID, sc.SpanID().String())
	}
	for _, f := range ContextFields(m.ctx) {
		f.AddTo(enc)
	}
	return nil
}
