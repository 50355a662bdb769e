package grelbulkhead

import (
	"context"
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.uber.org/fx"
)

// Tag returns the Fx tag of the bulkhead named name (`name:"reports"`).
func Tag(name string) string { return `name:"` + name + `"` }

// Params are what Named takes from the Fx graph.
type Params struct {
	fx.In
	Lifecycle fx.Lifecycle
	Registry  *grelconfig.Registry `optional:"true"`
}

// Named provides a *Bulkhead tagged [Tag](name), tuned by
// GREL_BULKHEAD_{NAME}_*, registered for reloads while the app runs.
func Named(name string, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelbulkhead: Named needs a name"))
	}
	return fx.Provide(fx.Annotate(func(p Params) (*Bulkhead, error) {
		all := opts
		if p.Registry != nil {
			all = append([]Option{WithRegistry(p.Registry)}, opts...)
		}
		b, err := New(name, all...)
		if err != nil {
			return nil, err
		}
		if p.Registry != nil {
			var unregister func()
			p.Lifecycle.Append(fx.Hook{
				OnStart: func(context.Context) error { unregister = p.Registry.Register(b); return nil },
				OnStop: func(context.Context) error {
					if unregister != nil {
						unregister()
					}
					return nil
				},
			})
		}
		return b, nil
	}, fx.ResultTags(Tag(name))))
}
