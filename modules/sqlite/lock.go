package grelsqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// LockTable is the table of the lock backend.
const LockTable = "grel_locks"

// LockMigration creates the lock table: one row per name, kept after a
// release (the holder is cleared) so the fence and transition counters
// survive. Times are microseconds since the Unix epoch on the host's clock,
// which every process sharing the file reads.
var LockMigration = Migration{
	Name: "lock_0001_grel_locks",
	SQL: `CREATE TABLE IF NOT EXISTS {{schema}}.grel_locks (
    name        TEXT    PRIMARY KEY,
    token       TEXT    NOT NULL DEFAULT '',
    holder      TEXT    NOT NULL DEFAULT '',
    last_holder TEXT    NOT NULL DEFAULT '',
    fence       INTEGER NOT NULL DEFAULT 0,
    transitions INTEGER NOT NULL DEFAULT 0,
    lease_ms    INTEGER NOT NULL DEFAULT 0,
    acquired_us INTEGER NOT NULL DEFAULT 0,
    renewed_us  INTEGER NOT NULL DEFAULT 0,
    expires_us  INTEGER NOT NULL DEFAULT 0,
    metadata    TEXT
)`,
}

// LockBackend is the grellock.Backend on SQLite: one write transaction
// (BEGIN IMMEDIATE, through [DB.Write]) per operation, safe across the
// processes of one host that share the file.
type LockBackend struct {
	db    *DB
	table string
}

var _ grellock.Backend = (*LockBackend)(nil)

// NewLockBackend returns the lock backend on db, with its table in schema
// ("" for main), created by [LockMigration] ([Migrate] it, or let the
// provider do it with [LockBackends]).
func NewLockBackend(db *DB, schema string) *LockBackend {
	if schema == "" {
		schema = DefaultSchema
	}
	return &LockBackend{db: db, table: quoteIdent(schema) + "." + LockTable}
}

// Kind returns "sqlite".
func (*LockBackend) Kind() string { return "sqlite" }

type lockRow struct {
	token, holder, last         string
	fence, transitions, leaseMs int64
	acquired, renewed, expires  int64
	meta                        sql.NullString
	found                       bool
}

func (b *LockBackend) read(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, name string) (lockRow, error) {
	var r lockRow
	err := q.QueryRowContext(ctx, `SELECT token, holder, last_holder, fence, transitions, lease_ms, acquired_us, renewed_us, expires_us, metadata FROM `+b.table+` WHERE name = ?`, name).
		Scan(&r.token, &r.holder, &r.last, &r.fence, &r.transitions, &r.leaseMs, &r.acquired, &r.renewed, &r.expires, &r.meta)
	if errors.Is(err, sql.ErrNoRows) {
		return lockRow{}, nil
	}
	r.found = err == nil
	return r, err
}

func (r lockRow) valid(now int64) bool { return r.token != "" && r.expires > now }

func (r lockRow) record(name string, now int64) (grellock.Record, error) {
	rec := grellock.Record{Name: name, Fence: uint64(r.fence), Transitions: r.transitions}
	if !r.valid(now) {
		return rec, nil
	}
	rec.Token, rec.Holder, rec.Lease = r.token, r.holder, time.Duration(r.leaseMs)*time.Millisecond
	rec.AcquiredAt, rec.RenewedAt, rec.ExpiresAt = time.UnixMicro(r.acquired), time.UnixMicro(r.renewed), time.UnixMicro(r.expires)
	if r.meta.Valid && r.meta.String != "" {
		if err := json.Unmarshal([]byte(r.meta.String), &rec.Metadata); err != nil {
			return grellock.Record{}, fmt.Errorf("grelsqlite: lock metadata: %w", err)
		}
	}
	return rec, nil
}

func leaseMicros(d time.Duration) int64 {
	us := d.Microseconds()
	if time.Duration(us)*time.Microsecond < d {
		us++
	}
	return us
}

func (b *LockBackend) write(r lockRow, name string) (string, []any) {
	return `INSERT INTO ` + b.table + ` (name, token, holder, last_holder, fence, transitions, lease_ms, acquired_us, renewed_us, expires_us, metadata)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET token = excluded.token, holder = excluded.holder, last_holder = excluded.last_holder,
  fence = excluded.fence, transitions = excluded.transitions, lease_ms = excluded.lease_ms, acquired_us = excluded.acquired_us,
  renewed_us = excluded.renewed_us, expires_us = excluded.expires_us, metadata = excluded.metadata`,
		[]any{name, r.token, r.holder, r.last, r.fence, r.transitions, r.leaseMs, r.acquired, r.renewed, r.expires, r.meta}
}

// Acquire implements grellock.Backend.
func (b *LockBackend) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	var meta sql.NullString
	if req.Metadata != nil {
		m, err := json.Marshal(req.Metadata)
		if err != nil {
			return grellock.Record{}, fmt.Errorf("grelsqlite: lock metadata: %w", err)
		}
		meta = sql.NullString{String: string(m), Valid: true}
	}
	var rec grellock.Record
	var held bool
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		held = false
		now := time.Now().UnixMicro()
		r, err := b.read(ctx, tx, req.Name)
		if err != nil {
			return err
		}
		switch {
		case r.valid(now) && r.token != req.Token:
			held = true
			rec, err = r.record(req.Name, now)
			return err
		case r.valid(now): // the token's own lease: extend
			if req.Metadata != nil {
				r.meta = meta
			}
		default: // free or expired: a new acquisition
			if r.fence > 0 && r.last != req.Holder {
				r.transitions++
			}
			r.fence++
			r.token, r.holder, r.last, r.acquired, r.meta = req.Token, req.Holder, req.Holder, now, meta
		}
		r.leaseMs, r.renewed, r.expires = req.Lease.Milliseconds(), now, now+leaseMicros(req.Lease)
		q, args := b.write(r, req.Name)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		rec, err = r.record(req.Name, now)
		return err
	})
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelsqlite: lock acquire: %w", err)
	}
	if held {
		return rec, grellock.ErrNotAcquired
	}
	return rec, nil
}

// Extend implements grellock.Backend.
func (b *LockBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	var rec grellock.Record
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `UPDATE `+b.table+` SET lease_ms = ?, renewed_us = ?, expires_us = ? WHERE name = ? AND token = ? AND token <> '' AND expires_us > ?`,
			req.Lease.Milliseconds(), now, now+leaseMicros(req.Lease), req.Name, req.Token, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return grellock.ErrNotHeld
		}
		r, err := b.read(ctx, tx, req.Name)
		if err != nil {
			return err
		}
		rec, err = r.record(req.Name, now)
		return err
	})
	if errors.Is(err, grellock.ErrNotHeld) {
		return grellock.Record{}, err
	}
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelsqlite: lock extend: %w", err)
	}
	return rec, nil
}

// Release implements grellock.Backend.
func (b *LockBackend) Release(ctx context.Context, name, token string) error {
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `UPDATE `+b.table+` SET token = '', holder = '', last_holder = '', expires_us = ?, metadata = NULL WHERE name = ? AND token = ? AND token <> '' AND expires_us > ?`,
			now, name, token, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return grellock.ErrNotHeld
		}
		return nil
	})
	if err != nil && !errors.Is(err, grellock.ErrNotHeld) {
		return fmt.Errorf("grelsqlite: lock release: %w", err)
	}
	return err
}

// Get implements grellock.Backend.
func (b *LockBackend) Get(ctx context.Context, name string) (grellock.Record, error) {
	var rec grellock.Record
	err := b.db.Read(ctx, func(tx *sql.Tx) error {
		r, err := b.read(ctx, tx, name)
		if err != nil {
			return err
		}
		rec, err = r.record(name, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelsqlite: lock get: %w", err)
	}
	return rec, nil
}

// LockBackends offers a grellock.Backend on every SQLite database of the app
// (each [Instance] in [InstancesGroup]) to grellock.Module, under the
// database's instance name, and contributes [LockMigration] so the provider
// creates the table at start.
var LockBackends = fx.Options(
	Migrations(LockMigration),
	provider.Backends(InstancesGroup, grellock.BackendGroup, "grelsqlite",
		func(_ fx.Lifecycle, in Instance) (string, grellock.Backend) {
			return in.Name, NewLockBackend(in.DB, "")
		}),
)
