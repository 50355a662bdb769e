package grelredis

import (
	"context"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
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
func Tag(name string) string { return provider.Tag(name) }

type deps struct {
	fx.In
	Registry       *grelconfig.Registry `optional:"true"`
	Logger         *zap.Logger          `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
}

type parts = provider.Parts[*Provider, redis.UniversalClient, Instance]

func provide(name string, client redis.UniversalClient, opts []Option) fx.Option {
	return provider.Provide("grelredis", name, InstancesGroup, func(d deps) (parts, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger), WithTracerProvider(d.TracerProvider)}, opts...)
		var p *Provider
		var err error
		if client != nil {
			p, err = Wrap(name, client, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return parts{}, err
		}
		return parts{
			Provider: p, Client: p.Client(), Instance: p.Instance(), Check: p.HealthCheck(),
			Start: p.Start, Stop: p.Stop,
			// Within what is left of the start ctx: the client is closed at
			// once, and a PING still in flight is not waited for past the
			// start's deadline.
			Abort: func(ctx context.Context) { _ = p.Stop(ctx) },
		}, nil
	})
}
