package grelpostgres

import (
	"errors"
	"fmt"
	"strings"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

var (
	// ErrInvalidConfig matches every [*ConfigError] with errors.Is.
	ErrInvalidConfig = errors.New("grelpostgres: invalid connection settings")
	// ErrUnavailable matches every [*ConnectError].
	ErrUnavailable = errors.New("grelpostgres: postgres unavailable")
	// ErrNotStarted is returned by [Provider.Ready] before Start succeeded.
	ErrNotStarted = errors.New("grelpostgres: provider not started")
	// ErrStopped is returned by [Provider.Ready] and [Provider.Start] after
	// Stop.
	ErrStopped = errors.New("grelpostgres: provider stopped")
	// ErrMigration matches every [*MigrationError].
	ErrMigration = errors.New("grelpostgres: migration failed")
)

// ConfigError is a connection string or libpq variable that was refused. It
// names the variables that supplied the settings and the reason, never a
// value.
type ConfigError struct {
	// Variables are the variables that were set (DATABASE_URL, PGSSLMODE);
	// empty for a connection string given in code.
	Variables []string
	// Reason says what is wrong, without the value.
	Reason string
}

func (e *ConfigError) Error() string {
	where := "connection string given in code"
	if len(e.Variables) > 0 {
		where = strings.Join(e.Variables, ", ")
	}
	return "grelpostgres: " + where + ": invalid connection settings: " + e.Reason
}

// Is matches [ErrInvalidConfig] and grelconfig.ErrInvalid.
func (e *ConfigError) Is(target error) bool {
	return target == ErrInvalidConfig || target == grelconfig.ErrInvalid
}

// ConnectError is a failed connect or readiness query. Addr names the server
// (user, hosts, database) and never the password.
type ConnectError struct {
	Name string
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return provider.Unreachable("grelpostgres", "cannot reach", e.Addr, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Is matches [ErrUnavailable].
func (e *ConnectError) Is(target error) bool { return target == ErrUnavailable }

// MigrationError is a migration that could not be applied; the transaction
// that ran it was rolled back, so no migration of that call is applied.
type MigrationError struct {
	// Migration is the failing migration's name ("" when the failure is in
	// the bookkeeping: the lock, the schema, grel_migrations).
	Migration string
	Schema    string
	Err       error
}

func (e *MigrationError) Error() string {
	what := "migrations"
	if e.Migration != "" {
		what = "migration " + e.Migration
	}
	return "grelpostgres: " + what + " in schema " + e.Schema + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is matches [ErrMigration].
func (e *MigrationError) Is(target error) bool { return target == ErrMigration }

// CloseError is a Stop whose ctx ended before the pool closed: InUse
// connections were still acquired (a query or a transaction running, or a
// connection the app holds). The pool finishes closing in the background
// once they are released; a later Stop waits for it again.
type CloseError struct {
	Name  string
	Addr  string
	InUse int
	// Err is the ctx's error.
	Err error
}

func (e *CloseError) Error() string {
	conns := "connections"
	if e.InUse == 1 {
		conns = "connection"
	}
	return provider.Unreachable("grelpostgres", "did not finish closing", e.Addr, e.Name,
		fmt.Errorf("%d %s still in use at the stop deadline (the pool closes when they are released): %w", e.InUse, conns, e.Err))
}

// Unwrap returns the ctx's error.
func (e *CloseError) Unwrap() error { return e.Err }
