package grellock

import (
	"context"
	"sync"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// BackendGroup is the Fx value group through which providers offer their
// lock Backends, one [NamedBackend] per client instance.
const BackendGroup = "grel.lock.backends"

// NamedBackend is one Backend offered in [BackendGroup]; Name is the
// provider instance's name ("" for its default instance).
type NamedBackend = fxbackend.Entry[Backend]

// Tag returns the Fx tag of an instance named name (`name:"cart"`), as
// [Named], [NamedTaskLock] and [NamedElection] provide it.
func Tag(name string) string { return `name:"` + name + `"` }

// Module is the Fx wiring of the lock patterns: it collects the Backends in
// [BackendGroup] (refusing two for one name at fx.New) and lets [Named],
// [NamedTaskLock] and [NamedElection] build instances on them. Without any
// Backend every instance uses one in-memory backend shared by the app, with a
// warning that its locks exclude this process's goroutines only.
var Module = fx.Module("grel.lock",
	fx.Provide(newBackendSet),
	fx.Invoke(func(*backendSet) {}),
)

type backendSetParams struct {
	fx.In
	Backends       []NamedBackend       `group:"grel.lock.backends"`
	Logger         *zap.Logger          `optional:"true"`
	Registry       *grelconfig.Registry `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
}

// backendSet is what Module provides to the instance helpers: the offered
// Backends, the app's shared memory fallback and the app's logger,
// registry and tracer.
type backendSet struct {
	entries []NamedBackend
	log     *zap.Logger
	reg     *grelconfig.Registry
	tp      trace.TracerProvider

	mu     sync.Mutex
	memory *Memory
	warned map[string]bool
}

func newBackendSet(p backendSetParams) (*backendSet, error) {
	s := &backendSet{entries: p.Backends, log: p.Logger, reg: p.Registry, tp: p.TracerProvider, warned: map[string]bool{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	seen := map[string]bool{}
	for _, e := range p.Backends {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		if _, _, _, err := fxbackend.Select("grellock", p.Backends, e.Name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *backendSet) pick(name string) (Backend, error) {
	b, _, ok, err := fxbackend.Select("grellock", s.entries, name)
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
		s.log.Warn("no lock backend offered: using memory, locks exclude this process's goroutines only",
			zap.String(grellog.FieldPattern, "lock"), zap.String(grellog.FieldBackend, "memory"),
			zap.String("backend_name", name), zap.Strings("offered", fxbackend.Names(s.entries)))
	}
	return s.memory, nil
}

// with puts the app's logger, registry and tracer before the caller's
// options, which win.
func (s *backendSet) with(opts []Option) []Option {
	base := []Option{WithLogger(s.log)}
	if s.reg != nil {
		base = append(base, WithRegistry(s.reg))
	}
	if s.tp != nil {
		base = append(base, WithTracerProvider(s.tp))
	}
	return append(base, opts...)
}

func backendNameOf(k kind, opts []Option) string {
	o := &options{kind: k}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o.backendName
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

// Named provides a *[Lock] named name, tagged [Tag](name), tuned by
// GREL_LOCK_{NAME}_*. It uses the Backend picked by [WithBackendName]. Its
// holds are released when the app stops. It needs [Module].
func Named(name string, opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*Lock, error) {
		b, err := s.pick(backendNameOf(kindLock, opts))
		if err != nil {
			return nil, err
		}
		l, err := New(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		s.hooks(lc, l, nil, l.Close)
		return l, nil
	}, fx.ResultTags(Tag(name))))
}

// NamedTaskLock provides a *[TaskLock] named name, tagged [Tag](name), tuned
// by GREL_TASKLOCK_{NAME}_*. It needs [Module].
func NamedTaskLock(name string, opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*TaskLock, error) {
		b, err := s.pick(backendNameOf(kindTask, opts))
		if err != nil {
			return nil, err
		}
		t, err := NewTaskLock(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		s.hooks(lc, t, nil, t.Close)
		return t, nil
	}, fx.ResultTags(Tag(name))))
}

// NamedElection provides a *[LeaderElection] named name, tagged [Tag](name),
// tuned by GREL_LEADERELECTION_{NAME}_*. The app's start starts its campaign
// (without waiting for leadership) and the app's stop steps it down,
// releasing the lease. It needs [Module].
func NamedElection(name string, opts ...Option) fx.Option {
	return fx.Options(fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*LeaderElection, error) {
		b, err := s.pick(backendNameOf(kindElection, opts))
		if err != nil {
			return nil, err
		}
		e, err := NewLeaderElection(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		s.hooks(lc, e, e.Start, e.Stop)
		return e, nil
	}, fx.ResultTags(Tag(name)))),
		// An election exists to campaign: build it even if nothing asks for it.
		fx.Invoke(fx.Annotate(func(*LeaderElection) {}, fx.ParamTags(Tag(name)))),
	)
}
