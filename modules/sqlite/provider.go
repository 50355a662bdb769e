package grelsqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// pkg prefixes the package's messages.
const pkg = "grelsqlite"

// Instance is one SQLite database offered to adapters through
// [InstancesGroup]. Write transactions go through DB.Write.
type Instance struct {
	// Name is the provider instance name ("" for the default).
	Name string
	DB   *DB
	// Path is the database file.
	Path string
}

// Provider owns one SQLite database: its config, its lifecycle, its
// migrations and its readiness check. A Provider made by [Wrap] does not own
// its database and never closes it.
type Provider struct {
	name        string
	db          *DB
	cfg         Config
	owned       bool
	nonCritical bool
	migrations  []Migration
	log         *zap.Logger

	state   provider.State
	stopErr error
}

// New returns a Provider for the named instance ("" for the default), its
// config resolved from options, GREL_SQLITE_{NAME}_*, GREL_SQLITE_* and the
// defaults (the file ./grelmicro.db). New opens the database without
// touching the file: [Provider.Start] does.
func New(name string, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	cfg, err := spec.Resolve(o.Registry, name, o.settings...)
	if err != nil {
		return nil, err
	}
	return newOwned(name, cfg, o)
}

// NewFromConfig returns a Provider for cfg as-is (validated, no variable
// read); config options given here apply on top of it.
func NewFromConfig(name string, cfg Config, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	cfg, err := applySettings(cfg, o.settings)
	if err != nil {
		return nil, err
	}
	return newOwned(name, cfg, o)
}

func applySettings(cfg Config, settings []grelconfig.Setting[Config]) (Config, error) {
	if len(settings) == 0 {
		return cfg, nil
	}
	// Resolve from an empty, GREL_ENV_LOAD=false source: only the
	// settings apply, over cfg's values kept as explicit settings.
	base := []grelconfig.Setting[Config]{
		pathField.Set(cfg.Path), busyField.Set(cfg.BusyTimeout), syncField.Set(cfg.Synchronous),
		connsField.Set(cfg.MaxOpenConns), migrateField.Set(cfg.Migrate),
	}
	return spec.ResolveFrom(grelconfig.Map(map[string]string{grelconfig.EnvLoadVariable: "false"}), "", append(base, settings...)...)
}

func newOwned(name string, cfg Config, o options) (*Provider, error) {
	db, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	return newProvider(name, db, cfg, true, o), nil
}

// Wrap returns a Provider over a database the app already owns (see
// [WrapDB]); Stop does not close it. Migrate and the other settings still
// resolve from GREL_SQLITE_* (Path and the pool settings are the app's).
func Wrap(name string, db *DB, opts ...Option) (*Provider, error) {
	if err := provider.ValidateName(pkg, name); err != nil {
		return nil, err
	}
	if db == nil || db.DB == nil {
		return nil, errors.New("grelsqlite: Wrap: db is nil")
	}
	o := buildOptions(opts)
	cfg, err := spec.Resolve(o.Registry, name, o.settings...)
	if err != nil {
		return nil, err
	}
	cfg.Path, cfg.BusyTimeout = db.path, db.busyTimeout
	return newProvider(name, db, cfg, false, o), nil
}

func newProvider(name string, db *DB, cfg Config, owned bool, o options) *Provider {
	return &Provider{
		name: name, db: db, cfg: cfg, owned: owned, nonCritical: o.NonCritical, migrations: o.migrations,
		log: o.InstanceLog("sqlite", name),
	}
}

// Name returns the instance name ("" for the default).
func (p *Provider) Name() string { return p.name }

// DB returns the shared database.
func (p *Provider) DB() *DB { return p.db }

// Path returns the database file.
func (p *Provider) Path() string { return p.db.path }

// Config returns the instance's settings.
func (p *Provider) Config() Config { return p.cfg }

// Owned reports whether the provider opened the database (and closes it).
func (p *Provider) Owned() bool { return p.owned }

// Instance returns the value adapters receive through [InstancesGroup].
func (p *Provider) Instance() Instance { return Instance{Name: p.name, DB: p.db, Path: p.db.path} }

// Start creates the file's folder if missing, opens the database, checks
// it answers SELECT 1 in WAL mode, then applies the pending migrations when
// Migrate is on, all within ctx. After Stop it returns [ErrStopped].
func (p *Provider) Start(ctx context.Context) error { return p.start(ctx, nil) }

func (p *Provider) start(ctx context.Context, extra []Migration) error {
	if p.state.Stopped() {
		return ErrStopped
	}
	if err := p.open(ctx, extra); err != nil {
		return err
	}
	p.state.MarkStarted()
	return nil
}

func (p *Provider) open(ctx context.Context, extra []Migration) error {
	if p.owned {
		if dir := filepath.Dir(p.db.path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return &OpenError{Name: p.name, Path: p.db.path, Err: err}
			}
		}
	}
	if err := p.ping(ctx); err != nil {
		return err
	}
	var mode string
	if err := p.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err == nil && !strings.EqualFold(mode, "wal") {
		p.log.Warn("sqlite is not in WAL mode: readers will wait for writers", zap.String("journal_mode", mode), zap.String("path", p.db.path))
	}
	p.log.Info("sqlite opened", zap.String("path", p.db.path), zap.String(grellog.FieldState, "ready"))
	ms := append(slices.Clone(p.migrations), extra...)
	if !p.cfg.Migrate || len(ms) == 0 {
		return nil
	}
	begin := time.Now()
	if err := Migrate(ctx, p.db, DefaultSchema, ms...); err != nil {
		return err
	}
	p.log.Debug("sqlite migrations applied", zap.Int("migrations", len(ms)), zap.Duration(grellog.FieldDuration, time.Since(begin)))
	return nil
}

// Ready is the readiness check: SELECT 1 within ctx (retried while the
// database is locked). Before a Start succeeded it returns [ErrNotStarted],
// after Stop [ErrStopped], without a query.
func (p *Provider) Ready(ctx context.Context) error {
	if err := p.state.Gate(ErrNotStarted, ErrStopped); err != nil {
		return err
	}
	return p.ping(ctx)
}

func (p *Provider) ping(ctx context.Context) error {
	err := p.db.retry(ctx, func() error {
		var one int
		return p.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil {
		return &OpenError{Name: p.name, Path: p.db.path, Err: err}
	}
	return nil
}

// Stop closes the database if the provider owns it. It is idempotent.
func (p *Provider) Stop(context.Context) error {
	p.state.Stop(func() {
		if p.owned {
			if err := p.db.Close(); err != nil {
				p.stopErr = errors.New("grelsqlite: close: " + err.Error())
			}
		}
		p.log.Debug("sqlite closed", zap.Bool("owned", p.owned))
	})
	return p.stopErr
}

// CheckName returns the readiness check's name: "sqlite" for the default
// instance, "sqlite:<name>" otherwise.
func CheckName(name string) string { return provider.CheckName("sqlite", name) }

// HealthCheck returns the readiness check for the health module, critical
// unless [WithNonCriticalCheck] was given.
func (p *Provider) HealthCheck() grelhealth.Check {
	return grelhealth.Check{Name: CheckName(p.name), Func: p.Ready, NonCritical: p.nonCritical}
}
