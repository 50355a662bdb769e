package fxgrel

import (
	"sync/atomic"

	"go.uber.org/zap/zapcore"
)

// lazyCore is a zapcore.Core that drops entries until set gives it the
// app's core, then writes there. It lets the registry, built before the
// logger (which is configured through it), log through the logger.
type lazyCore struct {
	core   atomic.Pointer[zapcore.Core]
	fields []zapcore.Field
	root   *lazyCore // nil for the root
}

func (l *lazyCore) set(c zapcore.Core) { l.core.Store(&c) }

func (l *lazyCore) current() zapcore.Core {
	root := l
	if l.root != nil {
		root = l.root
	}
	c := root.core.Load()
	if c == nil {
		return zapcore.NewNopCore()
	}
	if len(l.fields) > 0 {
		return (*c).With(l.fields)
	}
	return *c
}

func (l *lazyCore) Enabled(lvl zapcore.Level) bool { return l.current().Enabled(lvl) }

func (l *lazyCore) With(fields []zapcore.Field) zapcore.Core {
	root := l
	if l.root != nil {
		root = l.root
	}
	return &lazyCore{root: root, fields: append(append([]zapcore.Field(nil), l.fields...), fields...)}
}

func (l *lazyCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return l.current().Check(ent, ce)
}

func (l *lazyCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	return l.current().Write(ent, fields)
}

func (l *lazyCore) Sync() error { return l.current().Sync() }

var _ zapcore.Core = (*lazyCore)(nil)
