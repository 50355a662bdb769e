package grellog

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Option configures [New] and [Load]. Options that set a Config field win
// over the environment; the others are what only code can give.
type Option func(*options)

type options struct {
	settings []grelconfig.Setting[Config]
	edits    []func(*Config)

	ws       zapcore.WriteSyncer
	out      io.Writer // the writer given, for terminal detection
	fields   []zap.Field
	clock    zapcore.Clock
	terminal *bool
	level    *zap.AtomicLevel
	tees     []zapcore.Core
	zapOpts  []zap.Option
}

func collect(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

func (o *options) set(s grelconfig.Setting[Config], edit func(*Config)) {
	o.settings = append(o.settings, s)
	o.edits = append(o.edits, edit)
}

// WithFormat sets the format, over GREL_LOG_FORMAT.
func WithFormat(f Format) Option {
	return func(o *options) { o.set(formatField.Set(f), func(c *Config) { c.Format = f }) }
}

// WithLevel sets the minimum level, over GREL_LOG_LEVEL.
func WithLevel(l zapcore.Level) Option {
	return func(o *options) { o.set(levelField.Set(l), func(c *Config) { c.Level = l }) }
}

// WithCaller turns the caller field on or off, over GREL_LOG_CALLER.
func WithCaller(on bool) Option {
	return func(o *options) { o.set(callerField.Set(on), func(c *Config) { c.Caller = on }) }
}

// WithSampling turns sampling on or off, over GREL_LOG_SAMPLING.
func WithSampling(on bool) Option {
	return func(o *options) { o.set(samplingField.Set(on), func(c *Config) { c.Sampling = on }) }
}

// WithColor sets when the pretty format is coloured, over GREL_LOG_COLOR.
func WithColor(c Color) Option {
	return func(o *options) { o.set(colorField.Set(c), func(cfg *Config) { cfg.Color = c }) }
}

// WithWriter sends the log lines to w (default os.Stderr). Writes are
// serialized with a mutex, so w need not be safe for concurrent use.
func WithWriter(w io.Writer) Option {
	return func(o *options) {
		if w != nil {
			o.out, o.ws = w, zapcore.Lock(zapcore.AddSync(w))
		}
	}
}

// WithWriteSyncer sends the log lines to ws as they are. ws must be safe for
// concurrent use (wrap it in zapcore.Lock otherwise).
func WithWriteSyncer(ws zapcore.WriteSyncer) Option {
	return func(o *options) {
		if ws != nil {
			o.out, o.ws = ws, ws
		}
	}
}

// WithFields adds fields to every entry (for example the service's version).
func WithFields(fields ...zap.Field) Option {
	return func(o *options) { o.fields = append(o.fields, fields...) }
}

// WithClock sets the clock that stamps entries (tests use a fixed one).
func WithClock(c zapcore.Clock) Option {
	return func(o *options) { o.clock = c }
}

// WithTerminal says whether the output is a terminal, instead of asking the
// operating system. It decides what auto format and auto colours mean.
func WithTerminal(isTerminal bool) Option {
	return func(o *options) { o.terminal = &isTerminal }
}

// WithAtomicLevel makes the logger filter by lvl, so that the caller can
// change the level at run time (lvl.SetLevel; zap.AtomicLevel is also an
// http.Handler). The resolved Config's level is stored into lvl at
// construction.
func WithAtomicLevel(lvl zap.AtomicLevel) Option {
	return func(o *options) { o.level = &lvl }
}

// WithTee also sends every entry the logger writes to core, filtered by the
// logger's level (core's own level applies too). fxgreltest tees a
// zaptest/observer core this way.
func WithTee(core zapcore.Core) Option {
	return func(o *options) {
		if core != nil {
			o.tees = append(o.tees, core)
		}
	}
}

// WithZapOptions passes options to zap.New (hooks, extra stack traces).
func WithZapOptions(opts ...zap.Option) Option {
	return func(o *options) { o.zapOpts = append(o.zapOpts, opts...) }
}
