package grellog

import (
	"errors"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// The keys of the entry's own parts, shared by every format.
const (
	KeyTime       = "time"
	KeyLevel      = "level"
	KeyMessage    = "msg"
	KeyLogger     = "logger"
	KeyCaller     = "caller"
	KeyStacktrace = "stacktrace"
)

// TimeLayout is how the json and logfmt formats write the entry's time:
// RFC 3339 in UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// prettyTimeLayout is the pretty format's time of day, in local time.
const prettyTimeLayout = "15:04:05.000"

// New builds a logger from cfg as given (it reads no environment).
// Config-field options are applied on top of cfg; the result is validated.
// The logger writes to os.Stderr unless [WithWriter] says otherwise.
func New(cfg Config, opts ...Option) (*zap.Logger, error) {
	o := collect(opts)
	for _, edit := range o.edits {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return build(cfg, o)
}

// Load resolves the Config from reg (see [LoadConfig]) and builds the
// logger. A nil reg reads the process environment.
func Load(reg *grelconfig.Registry, opts ...Option) (*zap.Logger, error) {
	cfg, err := LoadConfig(reg, opts...)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}

func build(cfg Config, o *options) (*zap.Logger, error) {
	ws := o.ws
	if ws == nil {
		ws = zapcore.Lock(os.Stderr)
		o.out = os.Stderr
	}
	tty := isTerminal(o)
	format := cfg.Format
	if format == FormatAuto {
		format = FormatJSON
		if tty {
			format = FormatPretty
		}
	}
	color := cfg.Color == ColorAlways || (cfg.Color == ColorAuto && tty)

	lvl := zap.NewAtomicLevelAt(cfg.Level)
	if o.level != nil {
		lvl = *o.level
		lvl.SetLevel(cfg.Level)
	}

	enc, err := NewEncoder(format, color)
	if err != nil {
		return nil, err
	}
	core := zapcore.NewCore(enc, ws, lvl)
	if cfg.Sampling {
		core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	}
	if len(o.tees) > 0 {
		cores := []zapcore.Core{core}
		for _, t := range o.tees {
			cores = append(cores, &levelFilter{Core: t, lvl: lvl})
		}
		core = zapcore.NewTee(cores...)
	}

	zopts := []zap.Option{zap.ErrorOutput(zapcore.Lock(os.Stderr)), zap.AddStacktrace(zapcore.DPanicLevel)}
	if cfg.Caller {
		zopts = append(zopts, zap.AddCaller())
	}
	if o.clock != nil {
		zopts = append(zopts, zap.WithClock(o.clock))
	}
	if len(o.fields) > 0 {
		zopts = append(zopts, zap.Fields(o.fields...))
	}
	zopts = append(zopts, o.zapOpts...)
	return zap.New(core, zopts...), nil
}

func isTerminal(o *options) bool {
	if o.terminal != nil {
		return *o.terminal
	}
	if f, ok := o.out.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(f.Fd()))
	}
	return false
}

// EncoderConfig returns the encoder settings every format shares: the keys
// above, lower-case levels, RFC 3339 UTC times with milliseconds, durations
// in Go syntax (1.5s), short callers.
func EncoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		TimeKey:        KeyTime,
		LevelKey:       KeyLevel,
		NameKey:        KeyLogger,
		CallerKey:      KeyCaller,
		MessageKey:     KeyMessage,
		StacktraceKey:  KeyStacktrace,
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     utcTimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeCaller:   zapcore.ShortCallerEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
}

type timeLayoutAppender interface {
	AppendTimeLayout(time.Time, string)
}

func utcTimeEncoder(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	t = t.UTC()
	if a, ok := enc.(timeLayoutAppender); ok {
		a.AppendTimeLayout(t, TimeLayout)
		return
	}
	enc.AppendString(t.Format(TimeLayout))
}

// ErrUnknownFormat is the error of [NewEncoder] for a Format that is none
// of FormatAuto, FormatJSON, FormatLogfmt and FormatPretty.
var ErrUnknownFormat = errors.New("grellog: unknown log format: want auto, json, logfmt or pretty")

// NewEncoder returns the encoder of a format, with the settings of
// [EncoderConfig]. FormatAuto is taken as json here: only a logger knows
// whether its output is a terminal. color applies to the pretty format only.
// Any other format is refused with ErrUnknownFormat (it never panics, and
// the error does not repeat the value).
func NewEncoder(format Format, color bool) (zapcore.Encoder, error) {
	cfg := EncoderConfig()
	switch format {
	case FormatLogfmt:
		return NewLogfmtEncoder(cfg), nil
	case FormatPretty:
		return NewPrettyEncoder(cfg, color), nil
	case FormatJSON, FormatAuto:
		return zapcore.NewJSONEncoder(cfg), nil
	}
	return nil, ErrUnknownFormat
}

// levelFilter holds a teed core to the logger's level.
type levelFilter struct {
	zapcore.Core
	lvl zapcore.LevelEnabler
}

func (f *levelFilter) Enabled(l zapcore.Level) bool {
	return f.lvl.Enabled(l) && f.Core.Enabled(l)
}

func (f *levelFilter) With(fields []zapcore.Field) zapcore.Core {
	return &levelFilter{Core: f.Core.With(fields), lvl: f.lvl}
}

func (f *levelFilter) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !f.lvl.Enabled(ent.Level) {
		return ce
	}
	return f.Core.Check(ent, ce)
}
