package grelredis

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
)

// InstancesGroup is the Fx value group of [Instance] values, one per client,
// from which adapters build their Backends.
const InstancesGroup = "grel.redis.instances"

// Module provides the default client, from REDIS_URL: a
// redis.UniversalClient and a *Provider (both untagged), an [Instance] in
// [InstancesGroup] and a readiness check in fxgrel.HealthChecksGroup. It
// pings on start and closes on stop.
var Module = fx.Module("grel.redis", provide("", nil, nil))

// Named provides a second client, from REDIS_{NAME}_URL, under the Fx name
// tag [Tag](name).
func Named(name string, opts ...Option) fx.Option {
	return fx.Module("grel.redis."+name, provide(name, nil, opts))
}

// FromClient provides a client the app already owns as the named instance
// ("" for the default); the provider pings it on start and never closes it.
func FromClient(name string, client redis.UniversalClient, opts ...Option) fx.Option {
	return fx.Module("grel.redis."+name, provide(name, client, opts))
}

// Tag returns the Fx tag of the named instance: name:"<name>", or "" for
// the default.
func Tag(name string) string {
	if name == "" {
		return ""
	}
	return "name:" + strconv.Quote(name)
}

type deps struct {
	fx.In
	Lifecycle      fx.Lifecycle
	Registry       *grelconfig.Registry `optional:"true"`
	Logger         *zap.Logger          `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
}

func provide(name string, client redis.UniversalClient, opts []Option) fx.Option {
	ctor := func(d deps) (*Provider, redis.UniversalClient, Instance, grelhealth.Check, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger), WithTracerProvider(d.TracerProvider)}, opts...)
		var p *Provider
		var err error
		if client != nil {
			p, err = Wrap(name, client, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return nil, nil, Instance{}, grelhealth.Check{}, err
		}
		d.Lifecycle.Append(fx.Hook{
			OnStart: func(ctx context.Context) error {
				if err := p.Start(ctx); err != nil {
					// Fx does not stop a hook whose start failed: release
					// the client here.
					_ = p.Stop(ctx)
					return err
				}
				return nil
			},
			OnStop: p.Stop,
		})
		c, in, check := p.Client(), p.Instance(), p.HealthCheck()
		return p, c, in, check, nil
	}
	tag := Tag(name)
	return fx.Options(
		fx.Provide(fx.Annotate(ctor, fx.ResultTags(tag, tag,
			`group:"`+InstancesGroup+`"`, `group:"`+fxgrel.HealthChecksGroup+`"`))),
		// The provider starts (pings) even when nothing else asks for it, so
		// a misconfigured server fails the app at start.
		fx.Invoke(fx.Annotate(func(*Provider) {}, fx.ParamTags(tag))),
	)
}
