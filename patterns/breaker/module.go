package grelbreaker

import (
	"errors"

	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	"github.com/grelmicro/grelmicro-go/patterns/internal/fxinstance"
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"
)

// Tag returns the Fx tag of an instance named name (`name:"payments"`), as
// [Named] and [NamedGroup] provide it.
func Tag(name string) string { return `name:"` + name + `"` }

// Module is the Fx wiring of breakers: it collects the Backends offered in
// [BackendGroup] (refusing two for one name at fx.New) and lets [Named] and
// [NamedGroup] build instances on them. Without any Backend, every instance
// uses one in-memory backend shared by the app, logged at info: its state
// is local to this process, the breaker's documented default.
var Module = fx.Module("grel.breaker",
	fx.Provide(newBackendSet),
	fx.Invoke(func(*backendSet) {}),
)

type backendSetParams struct {
	fx.In
	Backends []NamedBackend `group:"grel.breaker.backends"`
	App      fxinstance.App
}

// backendSet is what Module gives the instance helpers: the offered
// Backends with the app's shared memory fallback, and the app's logger,
// registry, tracer and meter.
type backendSet struct {
	*fxbackend.Set[Backend]
	app fxinstance.App
}

func newBackendSet(p backendSetParams) (*backendSet, error) {
	set, err := fxbackend.NewSet("grelbreaker", p.Backends, p.App.Logger, fxbackend.Fallback[Backend]{
		New:     func() Backend { return NewMemory() },
		Level:   zapcore.InfoLevel,
		Message: "no breaker backend offered: using memory, breaker state is local to this process",
		Pattern: "breaker",
	})
	if err != nil {
		return nil, err
	}
	return &backendSet{Set: set, app: p.App}, nil
}

var appOptions = fxinstance.Options[Option]{Logger: WithLogger, Registry: WithRegistry,
	TracerProvider: WithTracerProvider, MeterProvider: WithMeterProvider}

// pick returns the Backend of the instance's [WithBackendName] and the
// options it is built with: the app's logger, registry, tracer and meter
// and the name logs give the Backend, before opts, which win.
func (s *backendSet) pick(opts []Option) (Backend, []Option, error) {
	e, err := s.PickEntry(collect(opts).backendName)
	if err != nil {
		return nil, nil, err
	}
	desc := func(o *options) { o.backendDesc = e.Provider }
	return e.Backend, appOptions.Prepend(s.app, append([]Option{desc}, opts...)), nil
}

// Named provides a *[Breaker] named name, tagged [Tag](name), tuned by
// GREL_BREAKER_{NAME}_*, on the Backend picked by [WithBackendName]. The
// app's start announces its initial state and registers it for reloads;
// the app's stop unregisters it. It needs [Module].
func Named(name string, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelbreaker: Named needs a name"))
	}
	return fx.Options(
		fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*Breaker, error) {
			backend, all, err := s.pick(opts)
			if err != nil {
				return nil, err
			}
			b, err := New(name, backend, all...)
			if err != nil {
				return nil, err
			}
			fxinstance.Register(lc, s.app.Registry, b, b.Start, b.Stop)
			return b, nil
		}, fx.ResultTags(Tag(name)))),
		fx.Invoke(fx.Annotate(func(*Breaker) {}, fx.ParamTags(Tag(name)))),
	)
}

// NamedGroup provides a *[Group] named name, tagged [Tag](name), tuned by
// GREL_BREAKER_{NAME}_*, registered for reloads while the app runs. It
// needs [Module].
func NamedGroup(name string, opts ...Option) fx.Option {
	if name == "" {
		return fx.Error(errors.New("grelbreaker: NamedGroup needs a name"))
	}
	return fx.Options(
		fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*Group, error) {
			backend, all, err := s.pick(opts)
			if err != nil {
				return nil, err
			}
			g, err := NewGroup(name, backend, all...)
			if err != nil {
				return nil, err
			}
			fxinstance.Register(lc, s.app.Registry, g, nil, g.Stop)
			return g, nil
		}, fx.ResultTags(Tag(name)))),
		fx.Invoke(fx.Annotate(func(*Group) {}, fx.ParamTags(Tag(name)))),
	)
}
