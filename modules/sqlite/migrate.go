package grelsqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/grelmicro/grelmicro-go/internal/sqlstore"
)

// MigrationsGroup is the Fx value group of [Migration] values that adapters
// contribute (see [Migrations]); the provider applies them at start when
// Migrate is on.
const MigrationsGroup = "grel.sqlite.migrations"

// SchemaPlaceholder in a migration's SQL is replaced by the quoted schema
// name ("main" unless the database is attached under another name).
const SchemaPlaceholder = sqlstore.SchemaPlaceholder

// MigrationsTable records applied migrations.
const MigrationsTable = sqlstore.MigrationsTable

// DefaultSchema is SQLite's name for the main database.
const DefaultSchema = "main"

// Migration is one named DDL step, applied once per database. Its SQL may
// hold several statements and the placeholder {{schema}} (write
// {{schema}}.table for tables; SQLite puts the schema on an index's name:
// CREATE INDEX {{schema}}.idx ON table (...)).
type Migration struct {
	// Name identifies the migration for good; migrations apply in the
	// lexical order of their names.
	Name string
	SQL  string
}

// MigrationsTableSQL is the DDL of grel_migrations that [Migrate] runs
// (after replacing {{schema}}), printed in docs/providers.md.
const MigrationsTableSQL = `CREATE TABLE IF NOT EXISTS {{schema}}.grel_migrations (
    name       TEXT PRIMARY KEY,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)`

// Migrate applies the migrations the database has not recorded yet, in one
// write transaction (BEGIN IMMEDIATE: processes that start together apply
// each migration once): it creates grel_migrations, runs each pending
// migration in name order and records it. On error the transaction rolls
// back and nothing of the call is applied. schema "" means "main".
// Migrating with no migrations does nothing.
func Migrate(ctx context.Context, db *DB, schema string, ms ...Migration) error {
	if schema == "" {
		schema = DefaultSchema
	}
	ms, err := sqlstore.Normalize(ms)
	if err != nil {
		return &MigrationError{Err: err}
	}
	if len(ms) == 0 {
		return nil
	}
	quoted := quoteIdent(schema)
	var failed string
	err = db.Write(ctx, func(tx *sql.Tx) error {
		failed = ""
		if _, err := tx.ExecContext(ctx, sqlstore.Expand(MigrationsTableSQL, quoted)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT name FROM "+quoted+"."+MigrationsTable)
		if err != nil {
			return err
		}
		var applied []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			applied = append(applied, n)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, m := range ms {
			if slices.Contains(applied, m.Name) {
				continue
			}
			if _, err := tx.ExecContext(ctx, sqlstore.Expand(m.SQL, quoted)); err != nil {
				failed = m.Name
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+quoted+"."+MigrationsTable+" (name, checksum) VALUES (?, ?)", m.Name, sqlstore.Checksum(m.SQL)); err != nil {
				failed = m.Name
				return err
			}
		}
		return nil
	})
	if err != nil {
		return &MigrationError{Migration: failed, Err: err}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
