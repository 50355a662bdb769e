package grelretry

import (
	"context"
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the default (unnamed) *Retrier, tuned by GREL_RETRY_*.
var Module = fx.Module("grel.retry",
	fx.Provide(func(p Params) (*Retrier, error) { return provide("", p, nil) }),
)

// Tag returns the Fx tag of the retrier named name (`name:"payments"`), as
// [Named] provides it, for fx.Annotate by hand.
func Tag(name string) string { return `name:"` + name + `"` }

// Params are what the Module takes from the Fx graph; all optional.
type Params struct {
	fx.In
	Lifecycle      fx.Lifecycle
	Logger         *zap.Logger          `optional:"true"`
	Registry       *grelconfig.Registry `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
}

// Named provides a *Retrier tagged [Tag](name), tuned by
// GREL_RETRY_{NAME}_*, and registers it for reloads while the app runs.
func Named(name string, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelretry: Named needs a name; the unnamed retrier comes from grelretry.Module"))
	}
	tag := Tag(name)
	return fx.Options(
		fx.Provide(fx.Annotate(func(p Params) (*Retrier, error) { return provide(name, p, opts) }, fx.ResultTags(tag))),
		fx.Invoke(fx.Annotate(func(*Retrier) {}, fx.ParamTags(tag))),
	)
}

func provide(name string, p Params, opts []Option) (*Retrier, error) {
	base := []Option{WithLogger(p.Logger)}
	if p.Registry != nil {
		base = append(base, WithRegistry(p.Registry))
	}
	if p.TracerProvider != nil {
		base = append(base, WithTracerProvider(p.TracerProvider))
	}
	r, err := New(name, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	if p.Registry != nil {
		var unregister func()
		p.Lifecycle.Append(fx.Hook{
			OnStart: func(context.Context) error { unregister = p.Registry.Register(r); return nil },
			OnStop: func(context.Context) error {
				if unregister != nil {
					unregister()
				}
				return nil
			},
		})
	}
	return r, nil
}
