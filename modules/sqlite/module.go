package grelsqlite

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
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
func Migrations(ms ...Migration) fx.Option {
	return fx.Provide(fx.Annotate(func() []Migration { return ms },
		fx.ResultTags(`group:"`+MigrationsGroup+`,flatten"`)))
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
	Lifecycle  fx.Lifecycle
	Registry   *grelconfig.Registry `optional:"true"`
	Logger     *zap.Logger          `optional:"true"`
	Migrations []Migration          `group:"grel.sqlite.migrations"`
}

func provide(name string, db *DB, opts []Option) fx.Option {
	ctor := func(d deps) (*Provider, *DB, Instance, grelhealth.Check, error) {
		all := append([]Option{WithRegistry(d.Registry), WithLogger(d.Logger)}, opts...)
		var p *Provider
		var err error
		if db != nil {
			p, err = Wrap(name, db, all...)
		} else {
			p, err = New(name, all...)
		}
		if err != nil {
			return nil, nil, Instance{}, grelhealth.Check{}, err
		}
		d.Lifecycle.Append(fx.Hook{
			OnStart: func(ctx context.Context) error {
				if err := p.start(ctx, d.Migrations); err != nil {
					// Fx does not stop a hook whose start failed.
					stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					_ = p.Stop(stopCtx)
					return err
				}
				return nil
			},
			OnStop: p.Stop,
		})
		c, in, check := p.DB(), p.Instance(), p.HealthCheck()
		return p, c, in, check, nil
	}
	tag := Tag(name)
	return fx.Options(
		fx.Provide(fx.Annotate(ctor, fx.ResultTags(tag, tag,
			`group:"`+InstancesGroup+`"`, `group:"`+fxgrel.HealthChecksGroup+`"`))),
		fx.Invoke(fx.Annotate(func(*Provider) {}, fx.ParamTags(tag))),
	)
}
