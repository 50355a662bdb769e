package grellock

import (
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	"github.com/grelmicro/grelmicro-go/patterns/internal/fxinstance"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"
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
	Backends []NamedBackend `group:"grel.lock.backends"`
	App      fxinstance.App
}

// backendSet is what Module provides to the instance helpers: the offered
// Backends with the app's shared memory fallback, and the app's logger,
// registry, tracer and meter.
type backendSet struct {
	*fxbackend.Set[Backend]
	app fxinstance.App
}

func newBackendSet(p backendSetParams) (*backendSet, error) {
	set, err := fxbackend.NewSet("grellock", p.Backends, p.App.Logger, fxbackend.Fallback[Backend]{
		New:     func() Backend { return NewMemory() },
		Level:   zapcore.WarnLevel,
		Message: "no lock backend offered: using memory, locks exclude this process's goroutines only",
		Pattern: "lock",
	})
	if err != nil {
		return nil, err
	}
	return &backendSet{Set: set, app: p.App}, nil
}

// appOptions give an instance the app's values.
var appOptions = fxinstance.Options[Option]{Logger: WithLogger, Registry: WithRegistry,
	TracerProvider: WithTracerProvider, MeterProvider: WithMeterProvider}

// pick returns the Backend of the instance's [WithBackendName].
func (s *backendSet) pick(k kind, opts []Option) (Backend, error) {
	return s.Pick(instance.Collect(&options{kind: k}, opts).backendName)
}

// with puts the app's logger, registry, tracer and meter before the
// caller's options, which win.
func (s *backendSet) with(opts []Option) []Option { return appOptions.Prepend(s.app, opts) }

// Named provides a *[Lock] named name, tagged [Tag](name), tuned by
// GREL_LOCK_{NAME}_*. It uses the Backend picked by [WithBackendName]. Its
// holds are released when the app stops. It needs [Module].
func Named(name string, opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*Lock, error) {
		b, err := s.pick(kindLock, opts)
		if err != nil {
			return nil, err
		}
		l, err := New(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		fxinstance.Register(lc, s.app.Registry, l, nil, l.Close)
		return l, nil
	}, fx.ResultTags(Tag(name))))
}

// NamedTaskLock provides a *[TaskLock] named name, tagged [Tag](name), tuned
// by GREL_TASKLOCK_{NAME}_*. It needs [Module].
func NamedTaskLock(name string, opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*TaskLock, error) {
		b, err := s.pick(kindTask, opts)
		if err != nil {
			return nil, err
		}
		t, err := NewTaskLock(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		fxinstance.Register(lc, s.app.Registry, t, nil, t.Close)
		return t, nil
	}, fx.ResultTags(Tag(name))))
}

// NamedElection provides a *[LeaderElection] named name, tagged [Tag](name),
// tuned by GREL_LEADERELECTION_{NAME}_*. The app's start starts its campaign
// (without waiting for leadership) and the app's stop steps it down,
// releasing the lease. It needs [Module].
func NamedElection(name string, opts ...Option) fx.Option {
	return fx.Options(fx.Provide(fx.Annotate(func(s *backendSet, lc fx.Lifecycle) (*LeaderElection, error) {
		b, err := s.pick(kindElection, opts)
		if err != nil {
			return nil, err
		}
		e, err := NewLeaderElection(name, b, s.with(opts)...)
		if err != nil {
			return nil, err
		}
		fxinstance.Register(lc, s.app.Registry, e, e.Start, e.Stop)
		return e, nil
	}, fx.ResultTags(Tag(name)))),
		// An election exists to campaign: build it even if nothing asks for it.
		fx.Invoke(fx.Annotate(func(*LeaderElection) {}, fx.ParamTags(Tag(name)))),
	)
}
