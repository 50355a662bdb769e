package grelratelimit

import (
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
	"github.com/grelmicro/grelmicro-go/patterns/internal/fxinstance"
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"
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
	Backends []NamedBackend `group:"grel.ratelimit.backends"`
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
	set, err := fxbackend.NewSet("grelratelimit", p.Backends, p.App.Logger, fxbackend.Fallback[Backend]{
		New:     func() Backend { return NewMemory() },
		Level:   zapcore.WarnLevel,
		Message: "no rate limit backend offered: using memory, limits are per process",
		Pattern: "ratelimit",
	})
	if err != nil {
		return nil, err
	}
	return &backendSet{Set: set, app: p.App}, nil
}

var appOptions = fxinstance.Options[Option]{Logger: WithLogger, Registry: WithRegistry,
	TracerProvider: WithTracerProvider, MeterProvider: WithMeterProvider}

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
		b, err := s.Pick(collect(opts).backendName)
		if err != nil {
			return nil, err
		}
		l, err := New(name, b, appOptions.Prepend(s.app, opts)...)
		if err != nil {
			return nil, err
		}
		fxinstance.Register(lc, s.app.Registry, l, nil, nil)
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
