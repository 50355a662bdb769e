package grelpostgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Option configures a [Provider].
type Option func(*options)

type options struct {
	provider.Options
	conn       string
	hasConn    bool
	settings   []grelconfig.Setting[Config]
	tp         trace.TracerProvider
	configure  func(*pgxpool.Config)
	migrations []Migration
}

func buildOptions(opts []Option) options {
	o := options{Options: provider.Defaults()}
	provider.Apply(&o, opts)
	return o
}

// WithConnString sets the connection string (a postgres:// URL or
// keyword=value) in code: DATABASE_URL and POSTGRES_URL (or their named
// forms) are then not read. libpq's PG* variables still fill what it leaves
// out.
func WithConnString(conn string) Option {
	return func(o *options) { o.conn, o.hasConn = conn, true }
}

// WithSchema sets the schema of grelmicro's tables (GREL_POSTGRES_SCHEMA).
func WithSchema(schema string) Option {
	return func(o *options) { o.settings = append(o.settings, schemaField.Set(schema)) }
}

// WithMigrate sets whether Start runs the migrations (GREL_POSTGRES_MIGRATE).
func WithMigrate(on bool) Option {
	return func(o *options) { o.settings = append(o.settings, migrateField.Set(on)) }
}

// WithMigrations adds migrations that Start applies (when Migrate is on),
// beside those of [MigrationsGroup] under Fx.
func WithMigrations(ms ...Migration) Option {
	return func(o *options) { o.migrations = append(o.migrations, ms...) }
}

// WithRegistry sets where variables are read and recorded for describe
// (default: a registry over the process environment).
func WithRegistry(reg *grelconfig.Registry) Option {
	return func(o *options) { o.SetRegistry(reg) }
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.SetLogger(l) }
}

// WithTracerProvider switches the otelpgx tracer on for pools the provider
// creates, unless tp is the no-op provider. A wrapped pool is left as its
// owner configured it.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithNonCriticalCheck makes the readiness check non-critical.
func WithNonCriticalCheck() Option {
	return func(o *options) { o.NonCritical = true }
}

// WithPoolConfig lets code adjust the parsed pool config (TLS, hooks,
// pool sizes) before the pool is created.
func WithPoolConfig(configure func(*pgxpool.Config)) Option {
	return func(o *options) { o.configure = configure }
}
