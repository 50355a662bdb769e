package fxgrel

import (
	"context"
	"errors"
	"io"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// Config is what fxgrel itself reads: where config files are and how often
// they are watched. It is resolved from the base source (the process
// environment, or [WithSource]'s), since it says where the rest comes from.
type Config struct {
	// Dir is a directory of files named after variables (a mounted
	// ConfigMap or Secret), layered over the base source: files win
	// (GREL_CONFIG_DIR, default none).
	Dir string
	// WatchInterval is how often Dir is polled for changes, which reload
	// every live instance; 0 turns watching off (GREL_CONFIG_WATCH_INTERVAL,
	// default 10s).
	WatchInterval time.Duration
}

// Kind is the config kind of fxgrel's own variables: GREL_CONFIG_*.
const Kind = "CONFIG"

var spec = grelconfig.NewSpec[Config](Kind)

var (
	dirField = spec.String("DIR", func(c *Config) *string { return &c.Dir }, "").
			Doc("directory of files named after variables, layered over the environment (files win)")
	_ = spec.Duration("WATCH_INTERVAL", func(c *Config) *time.Duration { return &c.WatchInterval }, 10*time.Second,
		grelconfig.NonNegative[time.Duration]()).
		Doc("how often GREL_CONFIG_DIR is polled for changes; 0 turns watching off")
)

// sourceOverrideName is the Fx name of the source [WithSource] supplies.
const sourceOverrideName = "grel.source.override"

// Module is all an app needs to start: it provides
//
//   - grelconfig.Source: the process environment, with GREL_CONFIG_DIR's
//     files layered over it when that variable is set ([WithSource]
//     replaces the environment);
//   - *grelconfig.Registry over that source, logging reloads through the
//     app's logger, and a watch of GREL_CONFIG_DIR owned by the app's
//     lifecycle (every GREL_CONFIG_WATCH_INTERVAL, 0 turns it off);
//   - *zap.Logger, *slog.Logger and zap.AtomicLevel from GREL_LOG_*, and
//     the Fx event logger (see grellog.Module);
//   - trace.TracerProvider, metric.MeterProvider,
//     propagation.TextMapPropagator and *greltrace.Providers from OTEL_*,
//     flushed and shut down on stop (see greltrace.Module).
//
// Use it at the root of fx.New: the Fx event logger applies to the module it
// is given in.
var Module = fx.Options(
	fx.Module("grel",
		fx.Provide(newCore),
		fx.Invoke(wire),
	),
	grellog.Module,
	greltrace.Module,
)

// WithSource makes src the base source of [Module] instead of the process
// environment: tests give grelconfig.Map(...). It works from any module of
// the app. GREL_CONFIG_DIR is read from src too.
//
// (fx.Decorate on grelconfig.Source does not do this: the registry is built
// together with the source and would still read the environment.)
func WithSource(src grelconfig.Source) fx.Option {
	return fx.Provide(fx.Annotate(func() grelconfig.Source { return src }, fx.ResultTags(`name:"`+sourceOverrideName+`"`)))
}

// Describe writes the table of every variable the app's components read
// through reg: name, type, default, effective value (secrets redacted) and
// origin. Build the app with fx.New (which constructs every component and so
// resolves every config) and call it before Start, as --describe does.
func Describe(w io.Writer, reg *grelconfig.Registry) error {
	return grelconfig.WriteTable(w, reg.Describe())
}

type coreParams struct {
	fx.In
	Override grelconfig.Source `name:"grel.source.override" optional:"true"`
}

type coreResult struct {
	fx.Out
	Source   grelconfig.Source
	Registry *grelconfig.Registry
	Plan     *plan
}

// plan is what newCore leaves for wire: the directory to watch and the
// registry's logger to complete once the app logger exists.
type plan struct {
	dir      *grelconfig.DirSource
	interval time.Duration
	log      *lazyCore
}

func newCore(p coreParams) (coreResult, error) {
	base := p.Override
	if base == nil {
		base = grelconfig.Env()
	}
	boot, err := spec.ResolveFrom(base, "")
	if err != nil {
		return coreResult{}, err
	}
	pl := &plan{log: &lazyCore{}}
	src := base
	if boot.Dir != "" {
		dir, err := grelconfig.Dir(boot.Dir)
		if err != nil {
			reason := "cannot be read"
			if cause := errors.Unwrap(err); cause != nil {
				reason += ": " + cause.Error()
			}
			return coreResult{}, &grelconfig.Error{Variable: grelconfig.KindVariable(Kind, dirField.Key()), Field: dirField.Name(), Origin: grelconfig.OriginKind, Reason: reason}
		}
		pl.dir = dir
		src = grelconfig.Layered(dir, base)
	}
	reg := grelconfig.NewRegistry(src, grelconfig.WithLogger(zap.New(pl.log).Named("grel.config")))
	// Resolve again through the registry so describe lists GREL_CONFIG_*;
	// the interval may come from the directory itself.
	cfg, err := spec.Resolve(reg, "")
	if err != nil {
		return coreResult{}, err
	}
	pl.interval = cfg.WatchInterval
	return coreResult{Source: src, Registry: reg, Plan: pl}, nil
}

func wire(lc fx.Lifecycle, reg *grelconfig.Registry, pl *plan, logger *zap.Logger) {
	pl.log.set(logger.Core())
	if pl.dir == nil || pl.interval <= 0 {
		return
	}
	var (
		cancel context.CancelFunc
		done   chan struct{}
	)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			var ctx context.Context
			ctx, cancel = context.WithCancel(context.Background())
			done = make(chan struct{})
			go func() {
				defer close(done)
				_ = reg.Watch(ctx, pl.dir, pl.interval, nil) // the registry logs each reload
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
}
