package grelpostgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
)

// InstancesGroup is the Fx value group of [Instance] values, one per pool,
// from which adapters build their Backends.
const InstancesGroup = "grel.postgres.instances"

// Module provides the default pool, from DATABASE_URL / POSTGRES_URL and
// PG*: a *pgxpool.Pool and a *Provider (both untagged), an [Instance] in
// [InstancesGroup] and a readiness check in fxgrel.HealthChecksGroup. On
// start it connects, runs SELECT 1 and applies every [Migration] of
// [MigrationsGroup] (when GREL_POSTGRES_MIGRATE is on); on stop it closes
// the pool.
var Module = fx.Module("grel.postgres", provide("", nil, nil))

// Named provides a second pool, from DATABASE_{NAME}_URL (or
// POSTGRES_{NAME}_URL), under the Fx name tag [Tag](name). The migrations of
// MigrationsGroup apply to it too, in its own schema
// (GREL_POSTGRES_{NAME}_SCHEMA), unless GREL_POSTGRES_{NAME}_MIGRATE=false.
func Named(name string, opts ...Option) fx.Option {
	return fx.Module("grel.postgres."+name, provide(name, nil, opts))
}

// FromPool provides a pool the app already owns as the named instance (""
// for the default); the provider pings and migrates it on start and never
// closes it.
func FromPool(name string, pool *pgxpool.Pool, opts ...Option) fx.Option {
	return fx.Module("grel.postgres."+name, provide(name, pool, opts))
}

// Migrations contributes migrations to [MigrationsGroup]; adapters use it
// for their tables.
func Migrations(ms ...Migration) fx.Option { return sqlstore.Migrations(MigrationsGroup, ms) }

// Tag returns the Fx tag of the named instance: name:"<name>", or "" for
// the default.
func Tag(name string) string { return provider.Tag(name) }

type deps struct {
	fx.In
	Registry       *grelconfig.Registry `optional:"true"`
	Logger         *zap.Logger          `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
	Migrations     []Migration          `group:"grel.postgres.migrations"`
}

type parts = provider.Parts[*Provider, *pgxpool.Pool, Instance]

func provide(name string, pool *pgxpool.Pool, opts []Option) fx.Option {
	return provider.Provide("grelpostgres", name, InstancesGroup, func(d deps) (parts, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger), WithTracerProvider(d.TracerProvider)}, opts...)
		var p *Provider
		var err error
		if pool != nil {
			p, err = Wrap(name, pool, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return parts{}, err
		}
		return parts{
			Provider: p, Client: p.Pool(), Instance: p.Instance(), Check: p.HealthCheck(),
			Start: func(ctx context.Context) error { return p.start(ctx, d.Migrations) },
			Stop:  p.Stop,
		}, nil
	})
}
