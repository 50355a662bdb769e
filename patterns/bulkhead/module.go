package grelbulkhead

import (
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/fxinstance"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/fx"
)

// Tag returns the Fx tag of the bulkhead named name (`name:"reports"`).
func Tag(name string) string { return `name:"` + name + `"` }

// Params are what Named takes from the Fx graph.
type Params struct {
	fx.In
	Lifecycle     fx.Lifecycle
	Registry      *grelconfig.Registry `optional:"true"`
	MeterProvider metric.MeterProvider `optional:"true"`
}

var appOptions = fxinstance.Options[Option]{Registry: WithRegistry, MeterProvider: WithMeterProvider}

// Named provides a *Bulkhead tagged [Tag](name), tuned by
// GREL_BULKHEAD_{NAME}_*, registered for reloads while the app runs.
func Named(name string, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelbulkhead: Named needs a name"))
	}
	return fx.Provide(fx.Annotate(func(p Params) (*Bulkhead, error) {
		b, err := New(name, appOptions.Prepend(fxinstance.App{Registry: p.Registry, MeterProvider: p.MeterProvider}, opts)...)
		if err != nil {
			return nil, err
		}
		fxinstance.Register(p.Lifecycle, p.Registry, b, nil, nil)
		return b, nil
	}, fx.ResultTags(Tag(name))))
}
