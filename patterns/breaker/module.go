package grelbreaker

import (
	"context"
	"errors"
	"sync"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Tag returns the Fx tag of an instance named name (`name:"payments"`), as
// [Named] and [NamedGroup] provide it.
func Tag(name string) string { return `name:"` + name + `"` }

// Module is the Fx wiring of breakers: it collects the Backends offered in
// [BackendGroup] (refusing two for one name at fx.New) and lets [Named] and
// [NamedGroup] build instances on them. Without any Backend, every instance
// uses one in-memory backend shared by the app, with a warning that its
// state is local to this process.
var Module = fx.Module("grel.breaker",
	fx.Provide(newBackendSet),
	fx.Invoke(func(*backendSet) {}),
)

type backendSetParams struct {
	fx.In
	Backends       []NamedBackend       `group:"grel.breaker.backends"`
	Logger         *zap.Logger          `optional:"true"`
	Registry       *grelconfig.Registry `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
	MeterProvider  metric.MeterProvider `optional:"true"`
}

type backendSet struct {
	entries []NamedBackend
	log     *zap.Logger
	reg     *grelconfig.Registry
	tp      trace.TracerProvider
	mp      metric.MeterProvider

	mu     sync.Mutex
	memory *Memory
	warned map[string]bool
}

func newBackendSet(p backendSetParams) (*backendSet, error) {
	s := &backendSet{entries: p.Backends, log: p.Logger, reg: p.Registry, tp: p.TracerProvider, mp: p.MeterProvider, warned: map[string]bool{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	seen := map[string]bool{}
	for _, e := range p.Backends {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		if _, _, _, err := fxbackend.Select("grelbreaker", p.Backends, e.Name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// pick returns the Backend for an instance and the name logs give it.
func (s *backendSet) pick(name string) (Backend, string, error) {
	b, provider, ok, err := fxbackend.Select("grelbreaker", s.entries, name)
	if err != nil {
		return nil, "", err
	}
	if ok {
		return b, provider, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.memory == nil {
		s.memory = NewMemory()
	}
	if !s.warned[name] {
		s.warned[name] = true
		s.log.Info("no breaker backend offered: using memory, breaker state is local to this process",
			zap.String(grellog.FieldPattern, "breaker"), zap.String(grellog.FieldBackend, "memory"),
			zap.String("backend_name", name), zap.Strings("offered", fxbackend.Names(s.entries)))
	}
	return s.memory, "memory", nil
}

// with puts the app's logger, registry, tracer and meter before the
// caller's options, which win.
func (s *backendSet) with(desc string, opts []Option) []Option {
	base := []Option{WithLogger(s.log), func(o *options) { o.backendDesc = desc }}
	if s.reg != nil {
		base = append(base, WithRegistry(s.reg))
	}
	if s.tp != nil {
		base = append(base, WithTracerProvider(s.tp))
	}
	if s.mp != nil {
		base = append(base, WithMeterProvider(s.mp))
	}
	return append(base, opts...)
}

func (s *backendSet) hooks(lc fx.Lifecycle, r grelconfig.Reloadable, start, stop func(context.Context) error) {
	var unregister func()
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if s.reg != nil {
				unregister = s.reg.Register(r)
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
			return stop(ctx)
		},
	})
}

func backendNameOf(opts []Option) string {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o.backendName
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
			backend, desc, err := s.pick(backendNameOf(opts))
			if err != nil {
				return nil, err
			}
			b, err := New(name, backend, s.with(desc, opts)...)
			if err != nil {
				return nil, err
			}
			s.hooks(lc, b, b.Start, b.Stop)
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
			backend, desc, err := s.pick(backendNameOf(opts))
			if err != nil {
				return nil, err
			}
			g, err := NewGroup(name, backend, s.with(desc, opts)...)
			if err != nil {
				return nil, err
			}
			s.hooks(lc, g, nil, g.Stop)
			return g, nil
		}, fx.ResultTags(Tag(name)))),
		fx.Invoke(fx.Annotate(func(*Group) {}, fx.ParamTags(Tag(name)))),
	)
}
