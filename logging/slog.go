package grellog

import (
	"context"
	"log/slog"
	"runtime"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// SlogOption configures [Slog] and [NewSlogHandler].
type SlogOption func(*slogHandler)

// WithSlogSource adds the caller of each slog call (file:line) as the
// entry's caller.
func WithSlogSource() SlogOption {
	return func(h *slogHandler) { h.addSource = true }
}

// Slog returns an *slog.Logger that writes through l's core: same format,
// level, fields and destination. Each record also gets trace_id and span_id
// when its context carries a valid span, and the fields of [ContextWith].
func Slog(l *zap.Logger, opts ...SlogOption) *slog.Logger {
	return slog.New(NewSlogHandler(l, opts...))
}

// NewSlogHandler returns the slog.Handler behind [Slog]. slog levels map to
// zap's: below Info is debug, below Warn is info, below Error is warn, and
// the rest is error. Groups become zap namespaces (nested objects in JSON,
// dotted keys in logfmt).
func NewSlogHandler(l *zap.Logger, opts ...SlogOption) slog.Handler {
	h := &slogHandler{core: l.Core(), name: l.Name()}
	for _, o := range opts {
		o(h)
	}
	return h
}

type slogHandler struct {
	core      zapcore.Core
	name      string
	addSource bool
	groups    []string // opened by WithGroup, not yet written (no attribute yet)
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l < slog.LevelInfo:
		return zapcore.DebugLevel
	case l < slog.LevelWarn:
		return zapcore.InfoLevel
	case l < slog.LevelError:
		return zapcore.WarnLevel
	}
	return zapcore.ErrorLevel
}

func (h *slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.core.Enabled(zapLevel(l))
}

func (h *slogHandler) Handle(ctx context.Context, r slog.Record) error {
	ent := zapcore.Entry{Level: zapLevel(r.Level), Time: r.Time, Message: r.Message, LoggerName: h.name}
	if h.addSource && r.PC != 0 {
		frame, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		ent.Caller = zapcore.NewEntryCaller(frame.PC, frame.File, frame.Line, true)
		ent.Caller.Function = frame.Function
	}
	ce := h.core.Check(ent, nil)
	if ce == nil {
		return nil
	}
	fields := make([]zap.Field, 0, r.NumAttrs()+len(h.groups)+4)
	fields = append(fields, TraceFields(ctx)...)
	fields = append(fields, ContextFields(ctx)...)
	attrs := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		if f, ok := attrField(a); ok {
			attrs = append(attrs, f)
		}
		return true
	})
	if len(attrs) > 0 {
		for _, g := range h.groups {
			fields = append(fields, zap.Namespace(g))
		}
		fields = append(fields, attrs...)
	}
	ce.Write(fields...)
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(attrs)+len(h.groups))
	for _, a := range attrs {
		if f, ok := attrField(a); ok {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return h
	}
	ns := make([]zap.Field, 0, len(h.groups)+len(fields))
	for _, g := range h.groups {
		ns = append(ns, zap.Namespace(g))
	}
	c := *h
	c.core = h.core.With(append(ns, fields...))
	c.groups = nil
	return &c
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.groups = append(slices.Clip(h.groups), name)
	return &c
}

// attrField converts one attribute; ok is false for attributes slog says to
// drop (empty, or an empty group).
func attrField(a slog.Attr) (zap.Field, bool) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return zap.Field{}, false
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return zap.String(a.Key, v.String()), true
	case slog.KindInt64:
		return zap.Int64(a.Key, v.Int64()), true
	case slog.KindUint64:
		return zap.Uint64(a.Key, v.Uint64()), true
	case slog.KindFloat64:
		return zap.Float64(a.Key, v.Float64()), true
	case slog.KindBool:
		return zap.Bool(a.Key, v.Bool()), true
	case slog.KindDuration:
		return zap.Duration(a.Key, v.Duration()), true
	case slog.KindTime:
		return zap.Time(a.Key, v.Time()), true
	case slog.KindGroup:
		g := groupMarshaler(v.Group())
		if !g.any() {
			return zap.Field{}, false
		}
		if a.Key == "" {
			return zap.Inline(g), true
		}
		return zap.Object(a.Key, g), true
	}
	if err, ok := v.Any().(error); ok {
		return zap.NamedError(a.Key, err), true
	}
	return zap.Any(a.Key, v.Any()), true
}

type groupMarshaler []slog.Attr

func (g groupMarshaler) any() bool {
	for _, a := range g {
		if _, ok := attrField(a); ok {
			return true
		}
	}
	return false
}

func (g groupMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, a := range g {
		if f, ok := attrField(a); ok {
			f.AddTo(enc)
		}
	}
	return nil
}
