package grelsqlite

import (
	"strings"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Kind is the provider's config kind: GREL_SQLITE_*.
const Kind = "SQLITE"

// DefaultPath is the database file of an instance whose path is not set: in
// the working folder.
const DefaultPath = "grelmicro.db"

// Synchronous is SQLite's PRAGMA synchronous level.
type Synchronous string

// The synchronous levels. In WAL mode NORMAL never corrupts the database;
// a power loss may lose the last commits. FULL makes every commit durable.
const (
	SynchronousOff    Synchronous = "OFF"
	SynchronousNormal Synchronous = "NORMAL"
	SynchronousFull   Synchronous = "FULL"
	SynchronousExtra  Synchronous = "EXTRA"
)

// Config is one SQLite instance's settings.
type Config struct {
	// Path is the database file (GREL_SQLITE_PATH), relative to the working
	// folder unless absolute. Its folder is created at start if missing.
	Path string
	// BusyTimeout bounds how long one write waits for the database lock
	// held by other connections or processes (GREL_SQLITE_BUSY_TIMEOUT).
	BusyTimeout time.Duration
	// Synchronous is PRAGMA synchronous (GREL_SQLITE_SYNCHRONOUS).
	Synchronous Synchronous
	// MaxOpenConns bounds the connections of the pool; readers run in
	// parallel in WAL mode, writers one at a time (GREL_SQLITE_MAX_OPEN_CONNS).
	MaxOpenConns int
	// Migrate applies the migrations of MigrationsGroup at start
	// (GREL_SQLITE_MIGRATE).
	Migrate bool
}

var spec = grelconfig.NewSpec[Config](Kind)

var (
	pathField = spec.String("PATH", func(c *Config) *string { return &c.Path }, DefaultPath,
		grelconfig.NewRule("must be a file path without '?'", func(s string) bool {
			return strings.TrimSpace(s) != "" && !strings.Contains(s, "?")
		})).
		Doc("database file, relative to the working folder unless absolute")
	busyField = spec.Duration("BUSY_TIMEOUT", func(c *Config) *time.Duration { return &c.BusyTimeout }, 5*time.Second,
		grelconfig.Positive[time.Duration]()).
		Doc("how long a write waits for the lock held by another connection or process")
	syncField = grelconfig.Enum(spec, "SYNCHRONOUS", func(c *Config) *Synchronous { return &c.Synchronous }, SynchronousNormal,
		SynchronousOff, SynchronousNormal, SynchronousFull, SynchronousExtra).
		Doc("PRAGMA synchronous: NORMAL (WAL-safe, may lose the last commits on power loss) or FULL (every commit durable)")
	connsField = spec.Int("MAX_OPEN_CONNS", func(c *Config) *int { return &c.MaxOpenConns }, 4,
		grelconfig.Between(1, 1024)).
		Doc("connections in the pool (readers run in parallel, writers one at a time)")
	migrateField = spec.Bool("MIGRATE", func(c *Config) *bool { return &c.Migrate }, true).
			Doc("create grelmicro's tables at start; false: call grelsqlite.Migrate yourself")
)

// DefaultConfig returns a Config with every field at its documented default.
func DefaultConfig() Config { return spec.Defaults() }

// Validate checks a Config given as-is.
func (c Config) Validate() error { return spec.Validate(c) }
