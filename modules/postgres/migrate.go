package grelpostgres

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
)

// MigrationsGroup is the Fx value group of [Migration] values that adapters
// contribute (see [Migrations]); the provider applies them at start when
// Migrate is on.
const MigrationsGroup = "grel.postgres.migrations"

// SchemaPlaceholder in a migration's SQL is replaced by the quoted schema
// identifier ("public", "my schema").
const SchemaPlaceholder = sqlstore.SchemaPlaceholder

// MigrationsTable records applied migrations, in the migrated schema.
const MigrationsTable = sqlstore.MigrationsTable

// Migration is one named, idempotent-by-bookkeeping DDL step. Its SQL may
// hold several statements and the placeholder {{schema}}. A migration is
// applied once per schema and never again, even if its SQL changes later:
// change a table with a new migration.
type Migration struct {
	// Name identifies the migration for good; migrations apply in the
	// lexical order of their names ("lock_0001_leases" before
	// "lock_0002_fence").
	Name string
	SQL  string
}

// MigrationsTableSQL is the DDL of grel_migrations that [Migrate] runs
// (after replacing {{schema}}), printed in docs/providers.md.
const MigrationsTableSQL = `CREATE TABLE IF NOT EXISTS {{schema}}.grel_migrations (
    name       text        PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Beginner is what [Migrate] needs: *pgxpool.Pool, *pgx.Conn and pgx.Tx
// all have it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrate applies the migrations that schema has not recorded yet, in one
// transaction: it takes a transaction-scoped advisory lock (so replicas that
// start together apply each migration once, and it works behind PgBouncer's
// transaction pooling, with the exec mode the package doc names), creates the schema if it is missing and the
// grel_migrations table, runs each pending migration in name order and
// records it. On any error the transaction rolls back and nothing of the
// call is applied. Migrating with no migrations does nothing.
func Migrate(ctx context.Context, db Beginner, schema string, ms ...Migration) error {
	if schema == "" || len(schema) > 63 {
		return &MigrationError{Schema: schema, Err: errors.New("schema must be a PostgreSQL identifier of 1 to 63 bytes")}
	}
	ms, err := sqlstore.Normalize(ms)
	if err != nil {
		return &MigrationError{Schema: schema, Err: err}
	}
	if len(ms) == 0 {
		return nil
	}
	fail := func(name string, err error) error {
		return &MigrationError{Migration: name, Schema: schema, Err: provider.JoinCtxErr(ctx, err)}
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fail("", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return fail("", err)
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fail("", err)
	}
	if !exists {
		// Only when missing: CREATE SCHEMA IF NOT EXISTS still needs the
		// CREATE privilege on the database.
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil {
			return fail("", err)
		}
	}
	if _, err := tx.Exec(ctx, sqlstore.Expand(MigrationsTableSQL, quoted)); err != nil {
		return fail("", err)
	}
	rows, err := tx.Query(ctx, "SELECT name FROM "+quoted+"."+MigrationsTable)
	if err != nil {
		return fail("", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fail("", err)
	}
	for _, m := range ms {
		if slices.Contains(applied, m.Name) {
			continue
		}
		if _, err := tx.Exec(ctx, sqlstore.Expand(m.SQL, quoted)); err != nil {
			return fail(m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+"."+MigrationsTable+" (name, checksum) VALUES ($1, $2)", m.Name, sqlstore.Checksum(m.SQL)); err != nil {
			return fail(m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("", err)
	}
	return nil
}

// lockKey is the advisory lock of one schema's migrations.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("grelmicro.migrate:" + schema))
	return int64(h.Sum64()) //nolint:gosec // any 64 bits make a key
}
