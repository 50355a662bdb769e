package grelsqlite

import (
	"time"

	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Option configures a [Provider].
type Option func(*options)

type options struct {
	provider.Options
	settings   []grelconfig.Setting[Config]
	migrations []Migration
}

func buildOptions(opts []Option) options {
	o := options{Options: provider.Defaults()}
	provider.Apply(&o, opts)
	return o
}

// WithPath sets the database file (GREL_SQLITE_PATH).
func WithPath(path string) Option { return setting(pathField.Set(path)) }

// WithBusyTimeout sets how long a write waits for the lock
// (GREL_SQLITE_BUSY_TIMEOUT).
func WithBusyTimeout(d time.Duration) Option { return setting(busyField.Set(d)) }

// WithSynchronous sets PRAGMA synchronous (GREL_SQLITE_SYNCHRONOUS).
func WithSynchronous(s Synchronous) Option { return setting(syncField.Set(s)) }

// WithMaxOpenConns sets the pool size (GREL_SQLITE_MAX_OPEN_CONNS).
func WithMaxOpenConns(n int) Option { return setting(connsField.Set(n)) }

// WithMigrate sets whether Start applies the migrations
// (GREL_SQLITE_MIGRATE).
func WithMigrate(on bool) Option { return setting(migrateField.Set(on)) }

func setting(s grelconfig.Setting[Config]) Option {
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithMigrations adds migrations that Start applies (when Migrate is on),
// beside those of [MigrationsGroup] under Fx.
func WithMigrations(ms ...Migration) Option {
	return func(o *options) { o.migrations = append(o.migrations, ms...) }
}

// WithRegistry sets where GREL_SQLITE_* are read and recorded for describe
// (default: a registry over the process environment).
func WithRegistry(reg *grelconfig.Registry) Option {
	return func(o *options) { o.SetRegistry(reg) }
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.SetLogger(l) }
}

// WithNonCriticalCheck makes the readiness check non-critical.
func WithNonCriticalCheck() Option {
	return func(o *options) { o.NonCritical = true }
}
