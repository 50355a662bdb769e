package grelsqlite

import (
	"errors"
	"strings"

	"modernc.org/sqlite"

	"github.com/grelmicro/grelmicro-go/internal/provider"
)

var (
	// ErrBusy is returned by [DB.Write] and [DB.Read] when the database
	// stayed locked by other writers for the whole busy timeout. It wraps
	// the driver's last "database is locked" error.
	ErrBusy = errors.New("grelsqlite: database busy")
	// ErrUnavailable matches every [*OpenError].
	ErrUnavailable = errors.New("grelsqlite: database unavailable")
	// ErrNotStarted is returned by [Provider.Ready] before Start succeeded.
	ErrNotStarted = errors.New("grelsqlite: provider not started")
	// ErrStopped is returned by [Provider.Ready] and [Provider.Start] after
	// Stop.
	ErrStopped = errors.New("grelsqlite: provider stopped")
	// ErrMigration matches every [*MigrationError].
	ErrMigration = errors.New("grelsqlite: migration failed")
)

// OpenError is a database file that could not be opened or queried at
// start or by the readiness check.
type OpenError struct {
	Name string
	Path string
	Err  error
}

func (e *OpenError) Error() string {
	return provider.Unreachable("grelsqlite", "cannot open", e.Path, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *OpenError) Unwrap() error { return e.Err }

// Is matches [ErrUnavailable].
func (e *OpenError) Is(target error) bool { return target == ErrUnavailable }

// MigrationError is a migration that could not be applied; its transaction
// was rolled back, so no migration of that call is applied.
type MigrationError struct {
	// Migration is the failing migration ("" for the bookkeeping).
	Migration string
	Err       error
}

func (e *MigrationError) Error() string {
	what := "migrations"
	if e.Migration != "" {
		what = "migration " + e.Migration
	}
	return "grelsqlite: " + what + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is matches [ErrMigration].
func (e *MigrationError) Is(target error) bool { return target == ErrMigration }

type busyError struct{ last error }

func (e *busyError) Error() string {
	return "grelsqlite: database busy: still locked by another writer after the busy timeout: " + e.last.Error()
}
func (e *busyError) Unwrap() error        { return e.last }
func (e *busyError) Is(target error) bool { return target == ErrBusy }

// SQLite primary result codes that mean "another connection holds a lock".
const (
	codeBusy   = 5 // SQLITE_BUSY and its extended codes
	codeLocked = 6 // SQLITE_LOCKED and its extended codes
)

// IsBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY,
// SQLITE_LOCKED or one of their extended codes): the kind of error
// [DB.Write] retries.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == codeBusy || c == codeLocked
	}
	return err != nil && (strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY"))
}
