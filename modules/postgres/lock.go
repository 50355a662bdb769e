package grelpostgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// LockTable is the table of the lock backend, in the instance's schema.
const LockTable = "grel_locks"

// LockMigration creates the lock table. One row per name, kept after a
// release (the holder is cleared) so the fence and transition counters
// survive; expires_at is compared with the database clock (now()).
var LockMigration = Migration{
	Name: "lock_0001_grel_locks",
	SQL: `CREATE TABLE IF NOT EXISTS {{schema}}.grel_locks (
    name        text        PRIMARY KEY,
    token       text        NOT NULL DEFAULT '',
    holder      text        NOT NULL DEFAULT '',
    last_holder text        NOT NULL DEFAULT '',
    fence       bigint      NOT NULL DEFAULT 0,
    transitions bigint      NOT NULL DEFAULT 0,
    lease_ms    bigint      NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    renewed_at  timestamptz,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    metadata    jsonb
)`,
}

// LockDB is what the lock backend needs from pgx: *pgxpool.Pool has it (so
// does a *pgx.Conn, for one goroutine).
type LockDB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// LockBackend is the grellock.Backend on PostgreSQL: a lease table, one
// statement (one round trip on a warm connection) per operation, the
// database clock for expiry. It holds no session state (no advisory lock),
// so it works on a pool and behind PgBouncer's transaction pooling (with
// the exec mode the package doc's PgBouncer section names), and a dropped
// connection loses nothing: the next statement runs on another connection.
type LockBackend struct {
	db                                        LockDB
	acquireSQL, extendSQL, releaseSQL, getSQL string
}

var _ grellock.Backend = (*LockBackend)(nil)

// NewLockBackend returns the lock backend on db, with its table in schema
// (created by [LockMigration]: [Migrate] it, or let the provider do it with
// [LockBackends]).
func NewLockBackend(db LockDB, schema string) *LockBackend {
	t := pgx.Identifier{schema, LockTable}.Sanitize()
	r := strings.NewReplacer("{{table}}", t)
	return &LockBackend{
		db:         db,
		acquireSQL: r.Replace(acquireSQL),
		extendSQL:  r.Replace(extendSQL),
		releaseSQL: r.Replace(releaseSQL),
		getSQL:     r.Replace(getSQL),
	}
}

// Kind returns "postgres".
func (*LockBackend) Kind() string { return "postgres" }

const recordColumns = `l.token, l.holder, l.fence, l.transitions, l.lease_ms, l.acquired_at, l.renewed_at, l.expires_at, l.metadata`

// acquireSQL: $1 name, $2 token, $3 holder, $4 lease ms, $5 metadata JSON
// (NULL for none), $6 whether metadata is given. The upsert takes a free or
// expired row (a new acquisition: fence + 1) or extends the token's own
// valid lease; when another token holds it, the row is returned as it is,
// with acquired = false.
var acquireSQL = `WITH up AS (
  INSERT INTO {{table}} AS l (name, token, holder, last_holder, fence, transitions, lease_ms, acquired_at, renewed_at, expires_at, metadata)
  VALUES ($1, $2, $3, $3, 1, 0, $4::bigint, now(), now(), now() + $4::bigint * interval '1 millisecond', $5::jsonb)
  ON CONFLICT (name) DO UPDATE SET
    fence = CASE WHEN l.token = EXCLUDED.token AND l.expires_at > now() THEN l.fence ELSE l.fence + 1 END,
    transitions = CASE
      WHEN l.token = EXCLUDED.token AND l.expires_at > now() THEN l.transitions
      WHEN l.fence > 0 AND l.last_holder <> EXCLUDED.holder THEN l.transitions + 1
      ELSE l.transitions END,
    acquired_at = CASE WHEN l.token = EXCLUDED.token AND l.expires_at > now() THEN l.acquired_at ELSE now() END,
    metadata = CASE WHEN l.token = EXCLUDED.token AND l.expires_at > now() AND NOT $6::boolean THEN l.metadata ELSE EXCLUDED.metadata END,
    token = EXCLUDED.token, holder = EXCLUDED.holder, last_holder = EXCLUDED.holder,
    lease_ms = EXCLUDED.lease_ms, renewed_at = now(), expires_at = EXCLUDED.expires_at
  WHERE l.token = EXCLUDED.token OR l.token = '' OR l.expires_at <= now()
  RETURNING ` + recordColumns + `
)
SELECT true, ` + strings.ReplaceAll(recordColumns, "l.", "up.") + `, now() FROM up
UNION ALL
SELECT false, ` + recordColumns + `, now() FROM {{table}} l WHERE l.name = $1 AND NOT EXISTS (SELECT 1 FROM up)`

// extendSQL: $1 name, $2 token, $3 lease ms.
const extendSQL = `UPDATE {{table}} AS l SET renewed_at = now(), expires_at = now() + $3::bigint * interval '1 millisecond', lease_ms = $3::bigint
WHERE l.name = $1 AND l.token = $2 AND l.token <> '' AND l.expires_at > now()
RETURNING true, ` + recordColumns + `, now()`

// releaseSQL: $1 name, $2 token. Clears the holder, keeps the counters.
const releaseSQL = `UPDATE {{table}} AS l SET token = '', holder = '', last_holder = '', expires_at = now(), metadata = NULL
WHERE l.name = $1 AND l.token = $2 AND l.token <> '' AND l.expires_at > now()`

// getSQL: $1 name.
const getSQL = `SELECT true, ` + recordColumns + `, now() FROM {{table}} l WHERE l.name = $1`

func leaseMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	return ms
}

func scanRecord(name string, row pgx.Row) (grellock.Record, bool, error) {
	var (
		ok                        bool
		token, holder             string
		fence, transitions, lease int64
		acquired, renewed         *time.Time
		expires, now              time.Time
		meta                      []byte
	)
	if err := row.Scan(&ok, &token, &holder, &fence, &transitions, &lease, &acquired, &renewed, &expires, &meta, &now); err != nil {
		return grellock.Record{}, false, err
	}
	rec := grellock.Record{Name: name, Fence: uint64(fence), Transitions: transitions}
	if token == "" || !expires.After(now) {
		return rec, ok, nil
	}
	rec.Token, rec.Holder, rec.Lease, rec.ExpiresAt = token, holder, time.Duration(lease)*time.Millisecond, expires
	if acquired != nil {
		rec.AcquiredAt = *acquired
	}
	if renewed != nil {
		rec.RenewedAt = *renewed
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &rec.Metadata); err != nil {
			return grellock.Record{}, false, fmt.Errorf("grelpostgres: lock metadata: %w", err)
		}
	}
	return rec, ok, nil
}

// Acquire implements grellock.Backend.
func (b *LockBackend) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	var meta any
	if req.Metadata != nil {
		m, err := json.Marshal(req.Metadata)
		if err != nil {
			return grellock.Record{}, fmt.Errorf("grelpostgres: lock metadata: %w", err)
		}
		meta = string(m)
	}
	rec, ok, err := scanRecord(req.Name, b.db.QueryRow(ctx, b.acquireSQL, req.Name, req.Token, req.Holder, leaseMillis(req.Lease), meta, req.Metadata != nil))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Another holder inserted the row after this statement's snapshot.
		return grellock.Record{Name: req.Name}, grellock.ErrNotAcquired
	case err != nil:
		return grellock.Record{}, fmt.Errorf("grelpostgres: lock acquire: %w", err)
	case !ok:
		return rec, grellock.ErrNotAcquired
	}
	return rec, nil
}

// Extend implements grellock.Backend.
func (b *LockBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	rec, _, err := scanRecord(req.Name, b.db.QueryRow(ctx, b.extendSQL, req.Name, req.Token, leaseMillis(req.Lease)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return grellock.Record{}, grellock.ErrNotHeld
	case err != nil:
		return grellock.Record{}, fmt.Errorf("grelpostgres: lock extend: %w", err)
	}
	return rec, nil
}

// Release implements grellock.Backend.
func (b *LockBackend) Release(ctx context.Context, name, token string) error {
	tag, err := b.db.Exec(ctx, b.releaseSQL, name, token)
	if err != nil {
		return fmt.Errorf("grelpostgres: lock release: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return grellock.ErrNotHeld
	}
	return nil
}

// Get implements grellock.Backend.
func (b *LockBackend) Get(ctx context.Context, name string) (grellock.Record, error) {
	rec, _, err := scanRecord(name, b.db.QueryRow(ctx, b.getSQL, name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return grellock.Record{Name: name}, nil
	case err != nil:
		return grellock.Record{}, fmt.Errorf("grelpostgres: lock get: %w", err)
	}
	return rec, nil
}

// LockBackends offers a grellock.Backend on every PostgreSQL pool of the app
// (each [Instance] in [InstancesGroup]) to grellock.Module, under the pool's
// instance name, and contributes [LockMigration] so the provider creates the
// table at start.
var LockBackends = fx.Options(
	Migrations(LockMigration),
	provider.Backends(InstancesGroup, grellock.BackendGroup, "grelpostgres",
		func(_ fx.Lifecycle, in Instance) (string, grellock.Backend) {
			return in.Name, NewLockBackend(in.Pool, in.Schema)
		}),
)
