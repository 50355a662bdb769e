package grelratelimit

import (
	"context"
	"sync"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// BackendGroup is the Fx value group through which providers offer their
// rate limit Backends, one [NamedBackend] per client instance.
const BackendGroup = "grel.ratelimit.backends"

// NamedBackend is one Backend offered in [BackendGroup]; Name is the
// provider instance's name ("" for its default instance).
type NamedBackend = fxbackend.Entry[Backend]

// Tag returns the Fx tag of the limiter named name (`name:"api"`), as
// [Named] provides it, for fx.Annotate by hand. The unnamed limiter is
// untagged.
func Tag(name string) string { return `name:"` + name + `"` }

// Module is the Fx wiring of rate limiters: it collects the Backends in
// [BackendGroup] (refusing two for one name at fx.New) and lets [Named]
// build limiters on them. Without any Backend every limiter uses one
// in-memory backend shared by the app, with a warning that its limits are
// per process.
var Module = fx.Module("grel.ratelimit",
	fx.Provide(newBackendSet),
	fx.Invoke(func(*backendSet) {}),
)

type backendSetParams struct {
	fx.In
	Backends       []NamedBackend       `group:"grel.ratelimit.backends"`
	Logger         *zap.Logger          `optional:"true"`
	Registry       *grelconfig.Registry `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
	MeterProvider  metric.MeterProvider `optional:"true"`
}

// backendSet is what Module gives the instance helpers: the offered
// Backends, the app's shared memory fallback, and the app's logger,
// registry, tracer and meter.
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
	s := &backendSet{entries: p.Backends, log: p.Logger, reg: p.Registry, tp: p.TracerProvider, mp: p.MeterProvider,
		warned: map[string]bool{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	seen := map[string]bool{}
	for _, e := range p.Backends {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		if _, _, _, err := fxbackend.Select("grelratelimit", p.Backends, e.Name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *backendSet) pick(name string) (Backend, error) {
	b, _, ok, err := fxbackend.Select("grelratelimit", s.entries, name)
	if err != nil {
		return nil, err
	}
	if ok {
		return b, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.memory == nil {
		s.memory = NewMemory()
	}
	if !s.warned[name] {
		s.warned[name] = true
		s.log.Warn("no rate limit backend offered: using memory, limits are per process",
			zap.String(grellog.FieldPattern, "ratelimit"), zap.String(grellog.FieldBackend, "memory"),
			zap.String("backend_name", name), zap.Strings("offered", fxbackend.Names(s.entries)))
	}
	return s.memory, nil
}

// with puts the app's logger, registry, tracer and meter before the
// caller's options, which win.
func (s *backendSet) with(opts []Option) []Option {
	base := []Option{WithLogger(s.log)}
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

// Named provides a *[Limiter] named name, tagged [Tag](name) (untagged for
// ""), tuned by GREL_RATELIMIT_{NAME}_*, on the Backend picked by
// [WithBackendName]. The algorithm is an option:
//
//	grelratelimit.Named("api", grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow))
//
// The limiter is built when the app is (so a bad config fails fx.New) and
// is registered for reloads with the app's *grelconfig.Registry while the
// app runs. It needs [Module].
func Named(name string, opts ...Option) fx.Option {
	ctor := func(s *backendSet, lc fx.Lifecycle) (*Limiter, error) {
		b, err := s.pick(collect(opts).backendName)
		if err != nil {
			return nil, err
		}
		l, err := New(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		if s.reg != nil {
			var unregister func()
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { unregister = s.reg.Register(l); return nil },
				OnStop: func(context.Context) error {
					if unregister != nil {
						unregister()
					}
					return nil
				},
			})
		}
		return l, nil
	}
	if name == "" {
		return fx.Options(fx.Provide(ctor), fx.Invoke(func(*Limiter) {}))
	}
	return fx.Options(
		fx.Provide(fx.Annotate(ctor, fx.ResultTags(Tag(name)))),
		fx.Invoke(fx.Annotate(func(*Limiter) {}, fx.ParamTags(Tag(name)))),
	)
}
