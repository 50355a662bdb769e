package grellog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// OptionsGroup is the Fx value group of []Option (flattened) that [Module]
// applies to the logger it builds. [WithOptions] contributes to it.
const OptionsGroup = "grel.log.options"

// Module provides the app's *zap.Logger (resolved from the
// *grelconfig.Registry when the app has one, the process environment
// otherwise), an *slog.Logger over the same core, the zap.AtomicLevel that
// filters both, and makes the logger Fx's event logger (lifecycle events at
// debug, errors at error). GREL_LOG_LEVEL is reloadable: a reload of the
// registry changes the level live; a reload that changes another GREL_LOG_*
// field is refused (restart to change the format). The logger is synced on
// stop.
//
// Use Module at the root of the app (fx.WithLogger applies to the module it
// is given in); fxgrel.Module includes it.
var Module = fx.Options(
	fx.Module("grel.log",
		fx.Provide(newModule, provideModule),
		// Build the logger even when nothing asks for it, so that a bad
		// GREL_LOG_* value always fails fx.New.
		fx.Invoke(func(*zap.Logger) {}),
	),
	fx.WithLogger(newEventLogger),
)

// WithOptions gives options to the logger [Module] builds, from anywhere in
// the app. Their order among several WithOptions is not specified.
func WithOptions(opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func() []Option { return opts }, fx.ResultTags(`group:"`+OptionsGroup+`,flatten"`)))
}

// NewFxEventLogger returns an fxevent.Logger over l, named "fx", that logs
// Fx's lifecycle events at debug and its errors at error.
func NewFxEventLogger(l *zap.Logger) fxevent.Logger {
	zl := &fxevent.ZapLogger{Logger: l.Named("fx")}
	zl.UseLogLevel(zap.DebugLevel)
	zl.UseErrorLevel(zap.ErrorLevel)
	return zl
}

type moduleParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Registry  *grelconfig.Registry `optional:"true"`
	Options   []Option             `group:"grel.log.options"`
}

type moduleResult struct {
	fx.Out
	Logger *zap.Logger
	Slog   *slog.Logger
	Level  zap.AtomicLevel
}

// built is the outcome of building the logger, kept even when it failed so
// that the Fx event logger can still report the failure.
type built struct {
	res moduleResult
	err error
}

func provideModule(b *built) (moduleResult, error) { return b.res, b.err }

// newEventLogger is the app's Fx event logger: the app's logger, or, when
// the logger could not be built (a bad GREL_LOG_* value), one stderr line per
// failed invoke or start, instead of Fx's dump of every event.
func newEventLogger(b *built) fxevent.Logger {
	if b.err == nil {
		return NewFxEventLogger(b.res.Logger)
	}
	return failureLogger{w: os.Stderr}
}

type failureLogger struct{ w io.Writer }

func (l failureLogger) LogEvent(e fxevent.Event) {
	switch e := e.(type) {
	case *fxevent.Invoked:
		if e.Err != nil {
			fmt.Fprintf(l.w, "fx: invoke failed: %v\n", e.Err)
		}
	case *fxevent.Started:
		if e.Err != nil {
			fmt.Fprintf(l.w, "fx: start failed: %v\n", e.Err)
		}
	}
}

func newModule(p moduleParams) *built {
	res, err := buildModule(p)
	return &built{res: res, err: err}
}

func buildModule(p moduleParams) (moduleResult, error) {
	reg := p.Registry
	if reg == nil {
		reg = grelconfig.NewRegistry(grelconfig.Env())
	}
	lvl := zap.NewAtomicLevel()
	opts := append(append([]Option(nil), p.Options...), WithAtomicLevel(lvl))
	o := collect(opts)
	resolved, err := spec.Resolve(reg, "", o.settings...)
	if err != nil {
		return moduleResult{}, err
	}
	logger, err := New(applyNoColor(reg, resolved), opts...)
	if err != nil {
		return moduleResult{}, err
	}
	rl := &reloader{current: resolved, level: lvl}
	rl.binding = spec.Bind("", o.settings, rl.apply)
	var unregister func()
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			unregister = reg.Register(rl.binding)
			return nil
		},
		OnStop: func(context.Context) error {
			if unregister != nil {
				unregister()
			}
			return Sync(logger)
		},
	})
	return moduleResult{Logger: logger, Slog: Slog(logger, slogOptions(resolved)...), Level: lvl}, nil
}

func slogOptions(cfg Config) []SlogOption {
	if cfg.Caller {
		return []SlogOption{WithSlogSource()}
	}
	return nil
}

// reloader applies a reloaded GREL_LOG_* config: the level changes live,
// any other field is refused.
type reloader struct {
	binding grelconfig.Reloadable
	mu      sync.Mutex
	current Config
	level   zap.AtomicLevel
}

func (r *reloader) apply(c Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.current
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{formatField.Name(), c.Format != cur.Format},
		{callerField.Name(), c.Caller != cur.Caller},
		{samplingField.Name(), c.Sampling != cur.Sampling},
		{colorField.Name(), c.Color != cur.Color},
	} {
		if f.changed {
			return fmt.Errorf("grellog: %s cannot change at run time: restart the process", f.name)
		}
	}
	r.level.SetLevel(c.Level)
	r.current = c
	return nil
}

// Sync flushes l, ignoring the errors that syncing a terminal or a pipe
// returns on some systems (EINVAL, ENOTTY).
func Sync(l *zap.Logger) error {
	err := l.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EBADF) {
		return nil
	}
	return err
}
