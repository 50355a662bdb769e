package grelsqlite

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"
)

// DriverName is the database/sql driver grelsqlite uses (modernc.org/sqlite,
// pure Go, no cgo).
const DriverName = "sqlite"

// busySlice bounds one wait of SQLite's own busy handler, so that the retry
// loop of Write sees ctx at least this often.
const busySlice = 200 * time.Millisecond

// Retry backoff between two attempts of a locked write.
const (
	minBackoff = time.Millisecond
	maxBackoff = 50 * time.Millisecond
)

// DB is a SQLite database shared by the adapters: the embedded *sql.DB for
// reads and plain statements, and [DB.Write] for write transactions, which
// run one at a time per DB and retry SQLite's "database is locked" within
// the busy timeout and the ctx, so that other processes on the same file
// never make a write fail with it.
type DB struct {
	*sql.DB
	path        string
	busyTimeout time.Duration
	writer      chan struct{} // one writer at a time in this process
}

// DSN returns the modernc.org/sqlite data source name grelsqlite opens cfg
// with: WAL journal, busy timeout, synchronous level, and BEGIN IMMEDIATE
// for every read-write transaction.
func DSN(cfg Config) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(min(cfg.BusyTimeout, busySlice).Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+string(cfg.Synchronous)+")")
	q.Set("_txlock", "immediate")
	return cfg.Path + "?" + q.Encode()
}

// Open opens the database cfg describes, without connecting (the first
// statement does). The caller owns it and closes it.
func Open(cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sdb, err := sql.Open(DriverName, DSN(cfg))
	if err != nil {
		return nil, err
	}
	sdb.SetMaxOpenConns(cfg.MaxOpenConns)
	sdb.SetMaxIdleConns(cfg.MaxOpenConns)
	return &DB{DB: sdb, path: cfg.Path, busyTimeout: cfg.BusyTimeout, writer: make(chan struct{}, 1)}, nil
}

// WrapDB wraps a *sql.DB the app opened with modernc.org/sqlite, for the
// write helper and the provider. path is informational (messages, the
// Instance). Open it with _txlock=immediate and a busy_timeout, as [DSN]
// does, for Write to hold the lock from the transaction's start.
func WrapDB(db *sql.DB, path string, busyTimeout time.Duration) *DB {
	if busyTimeout <= 0 {
		busyTimeout = DefaultConfig().BusyTimeout
	}
	return &DB{DB: db, path: path, busyTimeout: busyTimeout, writer: make(chan struct{}, 1)}
}

// Path returns the database file.
func (db *DB) Path() string { return db.path }

// Write runs fn in a write transaction (BEGIN IMMEDIATE) and commits it
// when fn returns nil. Writes of this DB run one at a time. When another
// connection or process holds the lock, the whole transaction is retried
// with backoff until the busy timeout has passed; then Write fails with
// [ErrBusy]. fn may therefore run more than once: keep side effects outside
// the database out of it. A done ctx ends Write with ctx.Err().
func (db *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.writer }()
	return db.retry(ctx, func() error { return db.tx(ctx, nil, fn) })
}

// Read runs fn in a read-only transaction (one consistent snapshot in WAL
// mode), retried like [DB.Write] while the database is locked.
func (db *DB) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.retry(ctx, func() error { return db.tx(ctx, &sql.TxOptions{ReadOnly: true}, fn) })
}

func (db *DB) tx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// retry runs op until it returns something other than a busy error, the
// busy timeout passes, or ctx is done.
func (db *DB) retry(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(db.busyTimeout)
	backoff := minBackoff
	for {
		err := op()
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if !IsBusy(err) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &busyError{last: err}
		}
		wait := min(backoff+rand.N(backoff), left)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}
