package grellog

import (
	"errors"
	"strings"

	"go.uber.org/zap/zapcore"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Format is the shape of each log line.
type Format string

// The formats GREL_LOG_FORMAT accepts.
const (
	// FormatAuto is FormatPretty when the output is a terminal and
	// FormatJSON otherwise.
	FormatAuto Format = "auto"
	// FormatJSON writes one JSON object per line.
	FormatJSON Format = "json"
	// FormatLogfmt writes one logfmt line (key=value pairs) per entry.
	FormatLogfmt Format = "logfmt"
	// FormatPretty writes human-readable lines, coloured on a terminal.
	FormatPretty Format = "pretty"
)

// Color says when the pretty format uses ANSI colours.
type Color string

// The values GREL_LOG_COLOR accepts.
const (
	// ColorAuto colours pretty output on a terminal unless NO_COLOR is set.
	ColorAuto Color = "auto"
	// ColorAlways colours pretty output wherever it goes.
	ColorAlways Color = "always"
	// ColorNever never colours.
	ColorNever Color = "never"
)

// NoColorVariable is the vendor variable (https://no-color.org) that turns
// colours off when GREL_LOG_COLOR is auto.
const NoColorVariable = "NO_COLOR"

// Config carries the values the environment tunes. The zero Config is not
// valid; start from [DefaultConfig].
type Config struct {
	// Format is GREL_LOG_FORMAT (default auto).
	Format Format
	// Level is GREL_LOG_LEVEL: debug, info, warn or error (default info).
	Level zapcore.Level
	// Caller adds the caller's file:line to each entry (GREL_LOG_CALLER,
	// default false).
	Caller bool
	// Sampling keeps, per message and level, the first 100 entries of each
	// second and then one in 100 (GREL_LOG_SAMPLING, default false).
	Sampling bool
	// Color is GREL_LOG_COLOR: auto, always or never (default auto).
	Color Color
}

// Kind is the config kind of the logger: its variables are GREL_LOG_*.
const Kind = "LOG"

var (
	spec = grelconfig.NewSpec[Config](Kind)

	formatField = grelconfig.Enum(spec, "FORMAT", func(c *Config) *Format { return &c.Format },
		FormatAuto, FormatAuto, FormatJSON, FormatLogfmt, FormatPretty).
		Doc("log line format: json, logfmt, pretty, or auto (pretty on a terminal, json otherwise)")
	levelField = grelconfig.Var(spec, "LEVEL", func(c *Config) *zapcore.Level { return &c.Level },
		zapcore.InfoLevel, levelCodec(), grelconfig.Between(zapcore.DebugLevel, zapcore.ErrorLevel)).
		Doc("minimum level logged: debug, info, warn or error")
	callerField = spec.Bool("CALLER", func(c *Config) *bool { return &c.Caller }, false).
			Doc("add the caller's file:line to each entry")
	samplingField = spec.Bool("SAMPLING", func(c *Config) *bool { return &c.Sampling }, false).
			Doc("per message and level, keep the first 100 entries each second, then 1 in 100")
	colorField = grelconfig.Enum(spec, "COLOR", func(c *Config) *Color { return &c.Color },
		ColorAuto, ColorAuto, ColorAlways, ColorNever).
		Doc("colours of the pretty format: auto (terminal and no NO_COLOR), always or never")
)

var errNotLevel = errors.New("must be one of debug, info, warn, error")

func levelCodec() grelconfig.Codec[zapcore.Level] {
	return grelconfig.Codec[zapcore.Level]{
		Type: "enum",
		Parse: func(s string) (zapcore.Level, error) {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "debug":
				return zapcore.DebugLevel, nil
			case "info":
				return zapcore.InfoLevel, nil
			case "warn", "warning":
				return zapcore.WarnLevel, nil
			case "error":
				return zapcore.ErrorLevel, nil
			}
			return 0, errNotLevel
		},
		Format: zapcore.Level.String,
	}
}

// DefaultConfig returns the documented defaults: auto format, info level,
// no caller, no sampling, auto colours.
func DefaultConfig() Config { return spec.Defaults() }

// Validate checks a Config given as-is.
func (c Config) Validate() error { return spec.Validate(c) }

// LoadConfig resolves the logger's Config from reg (GREL_LOG_* and
// NO_COLOR), with the config-field options given in code applied first, as
// the config contract orders them. A nil reg reads the process environment.
// Every variable read is recorded in reg for describe.
func LoadConfig(reg *grelconfig.Registry, opts ...Option) (Config, error) {
	o := collect(opts)
	if reg == nil {
		reg = grelconfig.NewRegistry(grelconfig.Env())
	}
	cfg, err := spec.Resolve(reg, "", o.settings...)
	if err != nil {
		return Config{}, err
	}
	return applyNoColor(reg, cfg), nil
}

func applyNoColor(reg *grelconfig.Registry, cfg Config) Config {
	v, ok := reg.Vendor(grelconfig.VendorVar{
		Name: NoColorVariable, Kind: Kind, Type: "string",
		Doc: "any non-empty value turns colours off when GREL_LOG_COLOR is auto",
	})
	if ok && v != "" && cfg.Color == ColorAuto {
		cfg.Color = ColorNever
	}
	return cfg
}
