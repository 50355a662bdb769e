package grelretry

import (
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/fxinstance"
	"go.opentelemetry.io/otel/metric"
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
	MeterProvider  metric.MeterProvider `optional:"true"`
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

var appOptions = fxinstance.Options[Option]{Logger: WithLogger, Registry: WithRegistry,
	TracerProvider: WithTracerProvider, MeterProvider: WithMeterProvider}

func provide(name string, p Params, opts []Option) (*Retrier, error) {
	app := fxinstance.App{Logger: p.Logger, Registry: p.Registry, TracerProvider: p.TracerProvider, MeterProvider: p.MeterProvider}
	r, err := New(name, appOptions.Prepend(app, opts)...)
	if err != nil {
		return nil, err
	}
	fxinstance.Register(p.Lifecycle, p.Registry, r, nil, nil)
	return r, nil
}
