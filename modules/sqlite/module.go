package grelsqlite

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
)

// InstancesGroup is the Fx value group of [Instance] values, one per
// database, from which adapters build their Backends.
const InstancesGroup = "grel.sqlite.instances"

// Module provides the default database, from GREL_SQLITE_* (default file
// ./grelmicro.db): a *DB and a *Provider (both untagged), an [Instance] in
// [InstancesGroup] and a readiness check in fxgrel.HealthChecksGroup. On
// start it opens the file and applies every [Migration] of
// [MigrationsGroup] (when GREL_SQLITE_MIGRATE is on); on stop it closes it.
var Module = fx.Module("grel.sqlite", provide("", nil, nil))

// Named provides a second database, from GREL_SQLITE_{NAME}_*, under the Fx
// name tag [Tag](name). Give it its own file with GREL_SQLITE_{NAME}_PATH
// (or [WithPath]); otherwise it shares the default's file.
func Named(name string, opts ...Option) fx.Option {
	return fx.Module("grel.sqlite."+name, provide(name, nil, opts))
}

// FromDB provides a database the app already owns as the named instance
// ("" for the default); it is migrated on start and never closed.
func FromDB(name string, db *DB, opts ...Option) fx.Option {
	return fx.Module("grel.sqlite."+name, provide(name, db, opts))
}

// Migrations contributes migrations to [MigrationsGroup]; adapters use it
// for their tables.
func Migrations(ms ...Migration) fx.Option { return sqlstore.Migrations(MigrationsGroup, ms) }

// Tag returns the Fx tag of the named instance: name:"<name>", or "" for
// the default.
func Tag(name string) string { return provider.Tag(name) }

type deps struct {
	fx.In
	Registry   *grelconfig.Registry `optional:"true"`
	Logger     *zap.Logger          `optional:"true"`
	Migrations []Migration          `group:"grel.sqlite.migrations"`
}

type parts = provider.Parts[*Provider, *DB, Instance]

func provide(name string, db *DB, opts []Option) fx.Option {
	return provider.Provide("grelsqlite", name, InstancesGroup, func(d deps) (parts, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger)}, opts...)
		var p *Provider
		var err error
		if db != nil {
			p, err = Wrap(name, db, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return parts{}, err
		}
		return parts{
			Provider: p, Client: p.DB(), Instance: p.Instance(), Check: p.HealthCheck(),
			Start: func(ctx context.Context) error { return p.start(ctx, d.Migrations) },
			Stop:  p.Stop,
		}, nil
	})
}
