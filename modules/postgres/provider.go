package grelpostgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// pkg prefixes the package's messages.
const pkg = "grelpostgres"

// Instance is one PostgreSQL pool offered to adapters through
// [InstancesGroup]. Schema is where the adapters' tables live.
type Instance struct {
	// Name is the provider instance name ("" for the default).
	Name   string
	Pool   *pgxpool.Pool
	Schema string
}

// Provider owns one pgx pool: its config, its lifecycle, its migrations and
// its readiness check. A Provider made by [Wrap] does not own its pool and
// never closes it.
type Provider struct {
	name        string
	pool        *pgxpool.Pool
	addr        string
	cfg         Config
	owned       bool
	nonCritical bool
	migrations  []Migration
	log         *zap.Logger

	state  provider.State
	closed chan struct{} // closed when the owned pool has closed; set by the first Stop
}

// New returns a Provider for the named instance ("" for the default). The
// connection string comes from [WithConnString], else DATABASE_URL then
// POSTGRES_URL (DATABASE_{NAME}_URL, POSTGRES_{NAME}_URL for a named
// instance), with libpq's PG* variables filling what it leaves out; all are
// read through the registry (see [WithRegistry]). The schema and
// auto-migrate come from GREL_POSTGRES_[{NAME}_]SCHEMA and _MIGRATE. New
// creates the pool without connecting: [Provider.Start] does.
func New(name string, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	reg := o.RegistryOrEnv()
	cfg, err := spec.Resolve(reg, name, o.settings...)
	if err != nil {
		return nil, err
	}
	conn, vars, err := vendorSettings(reg, name, o.conn, o.hasConn)
	if err != nil {
		return nil, err
	}
	pc, err := parsePoolConfig(conn, vars)
	if err != nil {
		return nil, err
	}
	if o.tp != nil && !greltrace.IsNoop(o.tp) {
		pc.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(o.tp))
	}
	if o.configure != nil {
		o.configure(pc)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, &ConfigError{Variables: vars, Reason: cleanReason(err)}
	}
	return newProvider(name, pool, describeConfig(&pc.ConnConfig.Config), cfg, true, o), nil
}

// Wrap returns a Provider over a pool the app already owns, for the named
// instance. Stop does not close it. The schema and auto-migrate still come
// from GREL_POSTGRES_* (and options).
func Wrap(name string, pool *pgxpool.Pool, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("grelpostgres: Wrap: pool is nil")
	}
	o := buildOptions(opts)
	cfg, err := spec.Resolve(o.Registry, name, o.settings...) // a nil registry reads the process environment
	if err != nil {
		return nil, err
	}
	return newProvider(name, pool, describeConfig(&pool.Config().ConnConfig.Config), cfg, false, o), nil
}

func newProvider(name string, pool *pgxpool.Pool, addr string, cfg Config, owned bool, o options) *Provider {
	return &Provider{
		name: name, pool: pool, addr: addr, cfg: cfg, owned: owned, nonCritical: o.NonCritical,
		migrations: o.migrations,
		log:        o.InstanceLog("postgres", name),
	}
}

// Name returns the instance name ("" for the default).
func (p *Provider) Name() string { return p.name }

// Pool returns the shared pool.
func (p *Provider) Pool() *pgxpool.Pool { return p.pool }

// Config returns grelmicro's settings of the instance.
func (p *Provider) Config() Config { return p.cfg }

// Schema returns the schema of grelmicro's tables.
func (p *Provider) Schema() string { return p.cfg.Schema }

// Addr names the server (user, hosts, database), never the password.
func (p *Provider) Addr() string { return p.addr }

// Owned reports whether the provider created the pool (and closes it).
func (p *Provider) Owned() bool { return p.owned }

// Instance returns the value adapters receive through [InstancesGroup].
func (p *Provider) Instance() Instance {
	return Instance{Name: p.name, Pool: p.pool, Schema: p.cfg.Schema}
}

// Start connects and runs SELECT 1 within ctx, then, when Migrate is on,
// applies the migrations given by [WithMigrations] (and, under Fx, those of
// [MigrationsGroup]). A server that is down or silent fails Start with a
// [*ConnectError] before ctx's deadline. After Stop it returns
// [ErrStopped].
func (p *Provider) Start(ctx context.Context) error {
	return p.start(ctx, nil)
}

func (p *Provider) start(ctx context.Context, extra []Migration) error {
	if p.state.Stopped() {
		return ErrStopped
	}
	if err := p.connect(ctx, extra); err != nil {
		return err
	}
	p.state.MarkStarted()
	return nil
}

func (p *Provider) connect(ctx context.Context, extra []Migration) error {
	ctx, cancel := provider.BeforeDeadline(ctx)
	defer cancel()
	if err := p.ping(ctx); err != nil {
		p.log.Warn("postgres unreachable at start", zap.String("addr", p.addr), zap.Error(err))
		return err
	}
	p.log.Info("postgres connected", zap.String("addr", p.addr), zap.String(grellog.FieldState, "ready"))
	ms := append(slices.Clone(p.migrations), extra...)
	if !p.cfg.Migrate || len(ms) == 0 {
		return nil
	}
	begin := time.Now()
	if err := Migrate(ctx, p.pool, p.cfg.Schema, ms...); err != nil {
		return err
	}
	p.log.Debug("postgres migrations applied", zap.String("schema", p.cfg.Schema), zap.Int("migrations", len(ms)),
		zap.Duration(grellog.FieldDuration, time.Since(begin)))
	return nil
}

// Ready is the readiness check: SELECT 1 within ctx. Before a Start
// succeeded it returns [ErrNotStarted], after Stop [ErrStopped], without a
// query.
func (p *Provider) Ready(ctx context.Context) error {
	if err := p.state.Gate(ErrNotStarted, ErrStopped); err != nil {
		return err
	}
	return p.ping(ctx)
}

func (p *Provider) ping(ctx context.Context) error {
	var one int
	err := p.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		return nil
	}
	return &ConnectError{Name: p.name, Addr: p.addr, Err: provider.JoinCtxErr(ctx, err)}
}

// Stop closes the pool if the provider owns it, waiting within ctx for the
// connections in use to be released (pgxpool closes a pool only then). When
// ctx ends first, Stop returns a [*CloseError] (matching ctx's error) that
// counts the connections still in use; the pool then finishes closing in
// the background as soon as they are released, and a later Stop waits for
// that again within its own ctx. Stop is idempotent otherwise: once the
// pool has closed, every call returns nil.
func (p *Provider) Stop(ctx context.Context) error {
	p.state.Stop(func() {
		if !p.owned {
			return
		}
		p.closed = make(chan struct{})
		go func() { p.pool.Close(); close(p.closed) }()
	})
	if p.closed == nil {
		return nil
	}
	select {
	case <-p.closed:
		p.log.Debug("postgres closed")
		return nil
	case <-ctx.Done():
		err := &CloseError{Name: p.name, Addr: p.addr, InUse: int(p.pool.Stat().AcquiredConns()), Err: ctx.Err()}
		p.log.Warn("postgres pool still closing: connections in use past the stop deadline", zap.Int("in_use", err.InUse), zap.Error(err))
		return err
	}
}

// CheckName returns the readiness check's name: "postgres" for the default
// instance, "postgres:<name>" otherwise.
func CheckName(name string) string { return provider.CheckName("postgres", name) }

// HealthCheck returns the readiness check for the health module, critical
// unless [WithNonCriticalCheck] was given.
func (p *Provider) HealthCheck() grelhealth.Check {
	return grelhealth.Check{Name: CheckName(p.name), Func: p.Ready, NonCritical: p.nonCritical}
}
