// Package fxinstance is the Fx wiring the pattern modules share: the app's
// values every instance takes (logger, config registry, tracer and meter
// providers), given before the caller's options, and the instance's
// registration for reloads while the app runs.
package fxinstance

import (
	"context"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// App is what an app built with fxgrel.Module supplies to pattern
// instances. Every value is optional, so that a pattern Module also works
// in a bare fx.New. Fx fills it as a parameter (or a field of a parameter
// object); code can fill it too.
type App struct {
	fx.In
	Logger         *zap.Logger          `optional:"true"`
	Registry       *grelconfig.Registry `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
	MeterProvider  metric.MeterProvider `optional:"true"`
}

// Options are one pattern's options for the values of [App]. A nil one is
// an option the pattern does not have: that value is not given.
type Options[O any] struct {
	Logger         func(*zap.Logger) O
	Registry       func(*grelconfig.Registry) O
	TracerProvider func(trace.TracerProvider) O
	MeterProvider  func(metric.MeterProvider) O
}

// Prepend returns the options that give app's values (those app has and
// the pattern takes) followed by opts, so that the caller's options win.
func (w Options[O]) Prepend(app App, opts []O) []O {
	out := make([]O, 0, 4+len(opts))
	if app.Logger != nil && w.Logger != nil {
		out = append(out, w.Logger(app.Logger))
	}
	if app.Registry != nil && w.Registry != nil {
		out = append(out, w.Registry(app.Registry))
	}
	if app.TracerProvider != nil && w.TracerProvider != nil {
		out = append(out, w.TracerProvider(app.TracerProvider))
	}
	if app.MeterProvider != nil && w.MeterProvider != nil {
		out = append(out, w.MeterProvider(app.MeterProvider))
	}
	return append(out, opts...)
}

// Register appends to lc the hook of an instance: on start it registers r
// with reg for reloads (when reg is not nil), then runs start; on stop it
// unregisters r, then runs stop. start and stop may be nil; with neither
// and no reg, there is nothing to do and no hook is appended.
func Register(lc fx.Lifecycle, reg *grelconfig.Registry, r grelconfig.Reloadable, start, stop func(context.Context) error) {
	if reg == nil && start == nil && stop == nil {
		return
	}
	var unregister func()
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if reg != nil {
				unregister = reg.Register(r)
			}
			if start != nil {
				return start(ctx)
			}
			return nil
		},
		OnStop: func(ctx context.Context) error {
			if unregister != nil {
				unregister()
			}
			if stop != nil {
				return stop(ctx)
			}
			return nil
		},
	})
}
