package grelpostgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// RateLimitTable is the table of the rate limit backend, in the instance's
// schema.
const RateLimitTable = "grel_ratelimit"

// RateLimitMigration creates the rate limit table: one row per (limiter,
// key) with the three numbers of a grelratelimit.State (t, prev, cur; in
// microseconds of the database clock), when the row becomes the same as no
// row (expires), and the last decision's answer, which the statement
// returns. The table is UNLOGGED: rate limit state is short-lived, so it
// skips the write-ahead log; after a crash or on a promoted standby it is
// empty, and every key starts with a full limit.
var RateLimitMigration = Migration{
	Name: "ratelimit_0001_grel_ratelimit",
	SQL: `CREATE UNLOGGED TABLE IF NOT EXISTS {{schema}}.grel_ratelimit (
    name      text    NOT NULL,
    key       text    NOT NULL,
    t         bigint  NOT NULL,
    prev      bigint  NOT NULL,
    cur       bigint  NOT NULL,
    expires   bigint  NOT NULL,
    allowed   boolean NOT NULL,
    remaining bigint  NOT NULL,
    retry_us  bigint  NOT NULL,
    reset_us  bigint  NOT NULL,
    PRIMARY KEY (name, key)
)`,
}

// RateLimitDB is what the rate limit backend needs from pgx:
// *pgxpool.Pool has it.
type RateLimitDB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RateLimitBackend is the grelratelimit.Backend on PostgreSQL. Each
// decision is one statement, INSERT ... ON CONFLICT DO UPDATE ... RETURNING
// (a SELECT for a peek), that reads the database clock (clock_timestamp(),
// after the row lock, so a decision that waited for the lock sees the time
// it runs at), applies the algorithm and stores the new state: concurrent
// decisions on one key serialize on its row. The SQL is the reference
// semantics (grelratelimit.Policy.Decide) at microsecond resolution, one
// round trip on a warm connection. It holds no session state, so it works
// on a pool and behind PgBouncer's transaction pooling (with the exec mode
// the package doc's PgBouncer section names).
//
// Rows of idle keys are removed by [RateLimitBackend.Sweep], which
// [RateLimitBackends] runs every [RateLimitSweepInterval].
type RateLimitBackend struct {
	db                   RateLimitDB
	bucketSQL, windowSQL string
	bucketPeekSQL        string
	windowPeekSQL        string
	resetSQL, sweepSQL   string
}

var _ grelratelimit.Backend = (*RateLimitBackend)(nil)

// RateLimitSweepInterval is how often [RateLimitBackends] deletes the rows
// of idle keys.
const RateLimitSweepInterval = time.Minute

// NewRateLimitBackend returns the rate limit backend on db, with its table
// in schema (created by [RateLimitMigration]).
func NewRateLimitBackend(db RateLimitDB, schema string) *RateLimitBackend {
	table := pgx.Identifier{schema, RateLimitTable}.Sanitize()
	return &RateLimitBackend{
		db:            db,
		bucketSQL:     upsertSQL(table, bucketCalc),
		windowSQL:     upsertSQL(table, windowCalc),
		bucketPeekSQL: peekSQL(table, bucketCalc),
		windowPeekSQL: peekSQL(table, windowCalc),
		resetSQL:      "DELETE FROM " + table + " WHERE name = $1 AND key = $2",
		sweepSQL:      "DELETE FROM " + table + " WHERE expires <= " + nowMicros,
	}
}

// Kind returns "postgres".
func (*RateLimitBackend) Kind() string { return "postgres" }

// nowMicros is the database clock in microseconds since 1970.
const nowMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

// The decision, as a FROM list over a one-row relation s(st_t, st_p, st_c)
// (the stored state, or zeros), with the parameters $3 limit, $4 span (the
// token bucket's interval or the window's length, microseconds), $5 n. It
// yields d(allowed, remaining, retry, reset, t, prev, cur, expires).
// consume is false for a peek.
type calc func(state string, consume bool) string

func bucketCalc(state string, consume bool) string {
	take := "a.allowed"
	if !consume {
		take = "false"
	}
	return `(SELECT a.allowed,
    greatest(floor(($3::bigint * $4::float8 - (f.after - c.now)) / $4::float8), 0)::bigint AS remaining,
    CASE WHEN a.allowed THEN 0 ELSE ceil(x.nxt - $3::bigint * $4::float8 - c.now)::bigint END AS retry,
    f.after - c.now AS reset, f.after AS t, 0::bigint AS prev, 0::bigint AS cur, f.after AS expires
  FROM ` + state + ` s
  CROSS JOIN LATERAL (SELECT ` + nowMicros + ` AS now) c
  CROSS JOIN LATERAL (SELECT greatest(s.st_t, c.now) AS base) b
  CROSS JOIN LATERAL (SELECT ceil(b.base + $5::bigint * $4::float8)::bigint AS nxt) x
  CROSS JOIN LATERAL (SELECT x.nxt - $3::bigint * $4::float8 <= c.now AS allowed) a
  CROSS JOIN LATERAL (SELECT CASE WHEN ` + take + ` THEN x.nxt ELSE b.base END AS after) f) d`
}

func windowCalc(state string, consume bool) string {
	take := "a.allowed"
	if !consume {
		take = "false"
	}
	return `(SELECT a.allowed,
    least(greatest(floor($3::bigint - u.est), 0), $3::bigint)::bigint AS remaining,
    CASE WHEN a.allowed THEN 0
      WHEN $3::bigint - u.cur - $5::bigint >= 0
        THEN greatest(ceil($4::bigint - ($3::bigint - u.cur - $5::bigint)::float8 * $4::bigint / r.p1 - q.el), 1)::bigint
      ELSE greatest(ceil($4::bigint - q.el + greatest($4::bigint - ($3::bigint - $5::bigint)::float8 * $4::bigint / u.cur, 0)), 1)::bigint
    END AS retry,
    CASE WHEN u.cur > 0 THEN 2 * $4::bigint - q.el WHEN r.p1 > 0 THEN $4::bigint - q.el ELSE 0 END AS reset,
    q.start AS t, r.p1 AS prev, u.cur AS cur,
    CASE WHEN u.cur > 0 THEN q.start + 2 * $4::bigint WHEN r.p1 > 0 THEN q.start + $4::bigint ELSE q.start END AS expires
  FROM ` + state + ` s
  CROSS JOIN LATERAL (SELECT ` + nowMicros + ` AS now) c
  CROSS JOIN LATERAL (SELECT CASE WHEN s.st_t = 0 THEN c.now ELSE s.st_t END AS start0,
      CASE WHEN s.st_t = 0 THEN 0 ELSE s.st_p END AS p0,
      CASE WHEN s.st_t = 0 THEN 0 ELSE s.st_c END AS c0) z
  CROSS JOIN LATERAL (SELECT greatest(c.now - z.start0, 0) AS e0) e
  CROSS JOIN LATERAL (SELECT e.e0 / $4::bigint AS k) kk
  CROSS JOIN LATERAL (SELECT CASE kk.k WHEN 0 THEN z.p0 WHEN 1 THEN z.c0 ELSE 0 END AS p1,
      CASE kk.k WHEN 0 THEN z.c0 ELSE 0 END AS c1,
      z.start0 + kk.k * $4::bigint AS start1, e.e0 - kk.k * $4::bigint AS e1) r
  CROSS JOIN LATERAL (SELECT CASE WHEN r.p1 = 0 AND r.c1 = 0 THEN c.now ELSE r.start1 END AS start,
      CASE WHEN r.p1 = 0 AND r.c1 = 0 THEN 0 ELSE r.e1 END AS el) q
  CROSS JOIN LATERAL (SELECT r.p1::float8 * ($4::bigint - q.el) / $4::bigint + r.c1 AS est0) w
  CROSS JOIN LATERAL (SELECT w.est0 + $5::bigint <= $3::bigint AS allowed) a
  CROSS JOIN LATERAL (SELECT CASE WHEN ` + take + ` THEN r.c1 + $5::bigint ELSE r.c1 END AS cur,
      CASE WHEN ` + take + ` THEN w.est0 + $5::bigint ELSE w.est0 END AS est) u) d`
}

const freshState = `(SELECT 0::bigint AS st_t, 0::bigint AS st_p, 0::bigint AS st_c)`

func upsertSQL(table string, c calc) string {
	return `INSERT INTO ` + table + ` AS r0 (name, key, t, prev, cur, expires, allowed, remaining, retry_us, reset_us)
SELECT $1, $2, d.t, d.prev, d.cur, d.expires, d.allowed, d.remaining, d.retry, d.reset FROM ` + c(freshState, true) + `
ON CONFLICT (name, key) DO UPDATE SET (t, prev, cur, expires, allowed, remaining, retry_us, reset_us) =
  (SELECT d.t, d.prev, d.cur, d.expires, d.allowed, d.remaining, d.retry, d.reset
   FROM ` + c(`(SELECT r0.t AS st_t, r0.prev AS st_p, r0.cur AS st_c)`, true) + `)
RETURNING allowed, remaining, retry_us, reset_us`
}

func peekSQL(table string, c calc) string {
	state := `(SELECT coalesce(max(x.t), 0) AS st_t, coalesce(max(x.prev), 0) AS st_p, coalesce(max(x.cur), 0) AS st_c
    FROM ` + table + ` x WHERE x.name = $1 AND x.key = $2)`
	return `SELECT d.allowed, d.remaining, d.retry, d.reset FROM ` + c(state, false)
}

// RateLimitStatements returns the SQL of a decision and of a peek for each
// algorithm ("token_bucket", "sliding_window") with the table in schema,
// for documentation.
func RateLimitStatements(schema string) map[string]string {
	table := pgx.Identifier{schema, RateLimitTable}.Sanitize()
	return map[string]string{
		"token_bucket":        upsertSQL(table, bucketCalc),
		"sliding_window":      upsertSQL(table, windowCalc),
		"token_bucket_peek":   peekSQL(table, bucketCalc),
		"sliding_window_peek": peekSQL(table, windowCalc),
	}
}

// Decide implements grelratelimit.Backend: one statement.
func (b *RateLimitBackend) Decide(ctx context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	var q string
	var span any
	if req.Policy.Algorithm == grelratelimit.SlidingWindow {
		q, span = b.windowSQL, int64(math.Round(float64(req.Policy.Window)/1e3))
		if req.Peek {
			q = b.windowPeekSQL
		}
	} else {
		q, span = b.bucketSQL, float64(req.Policy.Interval)/1e3
		if req.Peek {
			q = b.bucketPeekSQL
		}
	}
	var d grelratelimit.Decision
	var retry, reset int64
	if err := b.db.QueryRow(ctx, q, req.Name, req.Key, req.Policy.Limit, span, req.N).Scan(&d.Allowed, &d.Remaining, &retry, &reset); err != nil {
		return grelratelimit.Decision{}, fmt.Errorf("grelpostgres: rate limit decide: %w", err)
	}
	d.RetryAfter, d.ResetAfter = time.Duration(retry)*time.Microsecond, time.Duration(reset)*time.Microsecond
	return d, nil
}

// Reset implements grelratelimit.Backend: one DELETE.
func (b *RateLimitBackend) Reset(ctx context.Context, name, key string) error {
	if _, err := b.db.Exec(ctx, b.resetSQL, name, key); err != nil {
		return fmt.Errorf("grelpostgres: rate limit reset: %w", err)
	}
	return nil
}

// Sweep deletes the rows of idle keys (whose state is the same as none)
// and returns how many it deleted. Decisions never need it; it keeps the
// table to the keys in use.
func (b *RateLimitBackend) Sweep(ctx context.Context) (int64, error) {
	tag, err := b.db.Exec(ctx, b.sweepSQL)
	if err != nil {
		return 0, fmt.Errorf("grelpostgres: rate limit sweep: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RateLimitBackends offers a grelratelimit.Backend on every PostgreSQL pool
// of the app (each [Instance] in [InstancesGroup]) to grelratelimit.Module,
// under the pool's instance name; contributes [RateLimitMigration] so the
// provider creates the table at start; and sweeps idle rows every
// [RateLimitSweepInterval] while the app runs.
var RateLimitBackends = fx.Options(
	Migrations(RateLimitMigration),
	provider.Backends(InstancesGroup, grelratelimit.BackendGroup, "grelpostgres",
		func(lc fx.Lifecycle, in Instance) (string, grelratelimit.Backend) {
			b := NewRateLimitBackend(in.Pool, in.Schema)
			lc.Append(sqlstore.SweepHook(b.Sweep, RateLimitSweepInterval, nil))
			return in.Name, b
		}),
)
