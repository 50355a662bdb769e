package grelsqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// RateLimitTable is the table of the rate limit backend, in the main
// database.
const RateLimitTable = "grel_ratelimit"

// RateLimitMigration creates the rate limit table: one row per (limiter,
// key) with the three numbers of a grelratelimit.State (t, prev, cur; in
// microseconds of SQLite's clock), when the row becomes the same as no row
// (expires), and the last decision's answer, which the statement returns.
var RateLimitMigration = Migration{
	Name: "ratelimit_0001_grel_ratelimit",
	SQL: `CREATE TABLE IF NOT EXISTS {{schema}}.grel_ratelimit (
    name      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    t         INTEGER NOT NULL,
    prev      INTEGER NOT NULL,
    cur       INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    allowed   INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    retry_us  INTEGER NOT NULL,
    reset_us  INTEGER NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID`,
}

// RateLimitBackend is the grelratelimit.Backend on SQLite. Each decision is
// one statement, INSERT ... ON CONFLICT DO UPDATE ... RETURNING, in a
// BEGIN IMMEDIATE transaction of [DB.Write] (so it holds the write lock
// before it reads the row and the clock, and waits out other writers,
// processes included, within its context); a peek is one SELECT in
// [DB.Read]. The clock is SQLite's (unixepoch('subsec'), constant within
// the statement), which has millisecond resolution. The SQL is the
// reference semantics (grelratelimit.Policy.Decide) in microseconds.
//
// Rows of idle keys are removed by [RateLimitBackend.Sweep], which
// [RateLimitBackends] runs every [RateLimitSweepInterval].
type RateLimitBackend struct {
	db *DB
	// The four statements, prepared once (SQLite parses and plans them
	// once per connection instead of once per decision).
	mu    sync.Mutex
	sql   [4]string
	stmts [4]*sql.Stmt
}

const (
	rlBucket = iota
	rlWindow
	rlBucketPeek
	rlWindowPeek
)

var _ grelratelimit.Backend = (*RateLimitBackend)(nil)

// RateLimitSweepInterval is how often [RateLimitBackends] deletes the rows
// of idle keys.
const RateLimitSweepInterval = time.Minute

// NewRateLimitBackend returns the rate limit backend on db, with its table
// created by [RateLimitMigration].
func NewRateLimitBackend(db *DB) *RateLimitBackend {
	return &RateLimitBackend{db: db, sql: [4]string{
		rlBucket:     rlUpsertSQL(rlBucketCalc),
		rlWindow:     rlUpsertSQL(rlWindowCalc),
		rlBucketPeek: rlPeekSQL(rlBucketCalc),
		rlWindowPeek: rlPeekSQL(rlWindowCalc),
	}}
}

// stmt returns statement i, prepared at its first use.
func (b *RateLimitBackend) stmt(ctx context.Context, i int) (*sql.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stmts[i] == nil {
		s, err := b.db.PrepareContext(ctx, b.sql[i])
		if err != nil {
			return nil, err
		}
		b.stmts[i] = s
	}
	return b.stmts[i], nil
}

// Close releases the prepared statements; the DB stays open.
func (b *RateLimitBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	for i, s := range b.stmts {
		if s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
			b.stmts[i] = nil
		}
	}
	return first
}

// Kind returns "sqlite".
func (*RateLimitBackend) Kind() string { return "sqlite" }

// rlNow is SQLite's clock in microseconds since 1970 (milliseconds, exactly).
const rlNow = `CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000`

// The decision, as a derived table over the one-row relation state(st_t,
// st_p, st_c), with ?3 limit, ?4 span (the token bucket's interval or the
// window's length, microseconds), ?5 n. SQLite has no LATERAL: each step
// is a derived table around the previous one.
type rlCalc func(state string, consume bool) string

func rlTake(consume bool) string {
	if consume {
		return "allowed"
	}
	return "0"
}

func rlBucketCalc(state string, consume bool) string {
	return `(SELECT allowed,
    max(CAST(floor((?3 * ?4 - (after - now)) / ?4) AS INTEGER), 0) AS remaining,
    CASE WHEN allowed THEN 0 ELSE CAST(ceil(nxt - ?3 * ?4 - now) AS INTEGER) END AS retry,
    after - now AS reset, after AS t, 0 AS prev, 0 AS cur, after AS expires
  FROM (SELECT *, CASE WHEN ` + rlTake(consume) + ` THEN nxt ELSE base END AS after
  FROM (SELECT *, nxt - ?3 * ?4 <= now AS allowed
  FROM (SELECT *, CAST(ceil(base + ?5 * ?4) AS INTEGER) AS nxt
  FROM (SELECT *, max(st_t, now) AS base
  FROM (SELECT *, ` + rlNow + ` AS now FROM ` + state + `)))))) d`
}

func rlWindowCalc(state string, consume bool) string {
	return `(SELECT allowed,
    min(max(CAST(floor(?3 - est) AS INTEGER), 0), ?3) AS remaining,
    CASE WHEN allowed THEN 0
      WHEN ?3 - cur - ?5 >= 0 THEN max(CAST(ceil(?4 - (?3 - cur - ?5) * 1.0 * ?4 / p1 - el) AS INTEGER), 1)
      ELSE max(CAST(ceil(?4 - el + max(?4 - (?3 - ?5) * 1.0 * ?4 / cur, 0)) AS INTEGER), 1)
    END AS retry,
    CASE WHEN cur > 0 THEN 2 * ?4 - el WHEN p1 > 0 THEN ?4 - el ELSE 0 END AS reset,
    start AS t, p1 AS prev, cur,
    CASE WHEN cur > 0 THEN start + 2 * ?4 WHEN p1 > 0 THEN start + ?4 ELSE start END AS expires
  FROM (SELECT *, CASE WHEN ` + rlTake(consume) + ` THEN c1 + ?5 ELSE c1 END AS cur,
      CASE WHEN ` + rlTake(consume) + ` THEN est0 + ?5 ELSE est0 END AS est
  FROM (SELECT *, est0 + ?5 <= ?3 AS allowed
  FROM (SELECT *, 1.0 * p1 * (?4 - el) / ?4 + c1 AS est0
  FROM (SELECT *, CASE WHEN p1 = 0 AND c1 = 0 THEN now ELSE start1 END AS start,
      CASE WHEN p1 = 0 AND c1 = 0 THEN 0 ELSE e1 END AS el
  FROM (SELECT *, CASE k WHEN 0 THEN p0 WHEN 1 THEN c0 ELSE 0 END AS p1, CASE k WHEN 0 THEN c0 ELSE 0 END AS c1,
      start0 + k * ?4 AS start1, e0 - k * ?4 AS e1
  FROM (SELECT *, e0 / ?4 AS k
  FROM (SELECT *, max(now - start0, 0) AS e0
  FROM (SELECT *, CASE WHEN st_t = 0 THEN now ELSE st_t END AS start0,
      CASE WHEN st_t = 0 THEN 0 ELSE st_p END AS p0, CASE WHEN st_t = 0 THEN 0 ELSE st_c END AS c0
  FROM (SELECT *, ` + rlNow + ` AS now FROM ` + state + `)))))))))) d`
}

func rlUpsertSQL(c rlCalc) string {
	return `INSERT INTO ` + RateLimitTable + ` AS r0 (name, key, t, prev, cur, expires, allowed, remaining, retry_us, reset_us)
SELECT ?1, ?2, d.t, d.prev, d.cur, d.expires, d.allowed, d.remaining, d.retry, d.reset
FROM ` + c(`(SELECT 0 AS st_t, 0 AS st_p, 0 AS st_c)`, true) + ` WHERE true
ON CONFLICT (name, key) DO UPDATE SET (t, prev, cur, expires, allowed, remaining, retry_us, reset_us) =
  (SELECT d.t, d.prev, d.cur, d.expires, d.allowed, d.remaining, d.retry, d.reset
   FROM ` + c(`(SELECT r0.t AS st_t, r0.prev AS st_p, r0.cur AS st_c)`, true) + `)
RETURNING allowed, remaining, retry_us, reset_us`
}

func rlPeekSQL(c rlCalc) string {
	state := `(SELECT coalesce(max(x.t), 0) AS st_t, coalesce(max(x.prev), 0) AS st_p, coalesce(max(x.cur), 0) AS st_c
    FROM ` + RateLimitTable + ` x WHERE x.name = ?1 AND x.key = ?2)`
	return `SELECT d.allowed, d.remaining, d.retry, d.reset FROM ` + c(state, false)
}

// Decide implements grelratelimit.Backend: one statement.
func (b *RateLimitBackend) Decide(ctx context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	i, span := rlBucket, any(float64(req.Policy.Interval)/1e3)
	if req.Policy.Algorithm == grelratelimit.SlidingWindow {
		i, span = rlWindow, int64(math.Round(float64(req.Policy.Window)/1e3))
	}
	if req.Peek {
		i += rlBucketPeek
	}
	stmt, err := b.stmt(ctx, i)
	if err != nil {
		return grelratelimit.Decision{}, fmt.Errorf("grelsqlite: rate limit prepare: %w", err)
	}
	args := []any{req.Name, req.Key, req.Policy.Limit, span, req.N}
	var d grelratelimit.Decision
	var retry, reset int64
	run := func(tx *sql.Tx) error {
		return tx.StmtContext(ctx, stmt).QueryRowContext(ctx, args...).Scan(&d.Allowed, &d.Remaining, &retry, &reset)
	}
	if req.Peek {
		err = b.db.Read(ctx, run)
	} else {
		err = b.db.Write(ctx, run)
	}
	if err != nil {
		return grelratelimit.Decision{}, fmt.Errorf("grelsqlite: rate limit decide: %w", err)
	}
	d.RetryAfter, d.ResetAfter = time.Duration(retry)*time.Microsecond, time.Duration(reset)*time.Microsecond
	return d, nil
}

// Reset implements grelratelimit.Backend: one DELETE.
func (b *RateLimitBackend) Reset(ctx context.Context, name, key string) error {
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM "+RateLimitTable+" WHERE name = ?1 AND key = ?2", name, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("grelsqlite: rate limit reset: %w", err)
	}
	return nil
}

// Sweep deletes the rows of idle keys (whose state is the same as none)
// and returns how many it deleted. Decisions never need it; it keeps the
// table to the keys in use.
func (b *RateLimitBackend) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := b.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+RateLimitTable+" WHERE expires <= "+rlNow)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("grelsqlite: rate limit sweep: %w", err)
	}
	return n, nil
}

// RateLimitStatements returns the SQL of a decision and of a peek for each
// algorithm ("token_bucket", "sliding_window"), for documentation.
func RateLimitStatements() map[string]string {
	return map[string]string{
		"token_bucket":        strings.TrimSpace(rlUpsertSQL(rlBucketCalc)),
		"sliding_window":      strings.TrimSpace(rlUpsertSQL(rlWindowCalc)),
		"token_bucket_peek":   strings.TrimSpace(rlPeekSQL(rlBucketCalc)),
		"sliding_window_peek": strings.TrimSpace(rlPeekSQL(rlWindowCalc)),
	}
}

// RateLimitBackends offers a grelratelimit.Backend on every SQLite database
// of the app (each [Instance] in [InstancesGroup]) to grelratelimit.Module,
// under the instance name; contributes [RateLimitMigration] so the provider
// creates the table at start; and sweeps idle rows every
// [RateLimitSweepInterval] while the app runs.
var RateLimitBackends = fx.Options(
	Migrations(RateLimitMigration),
	provider.Backends(InstancesGroup, grelratelimit.BackendGroup, "grelsqlite",
		func(lc fx.Lifecycle, in Instance) (string, grelratelimit.Backend) {
			b := NewRateLimitBackend(in.DB)
			lc.Append(sqlstore.SweepHook(b.Sweep, RateLimitSweepInterval, b.Close))
			return in.Name, b
		}),
)
