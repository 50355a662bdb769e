package grelsqlite_test

import (
	"context"
	"testing"
	"time"

	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
)

// openDB opens the file at path with the default settings as one more
// client (its own pool), closed at cleanup.
func openDB(t testing.TB, path string) *grelsqlite.DB {
	t.Helper()
	cfg := grelsqlite.DefaultConfig()
	cfg.Path = path
	db, err := grelsqlite.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// migrate applies ms to db within 30s.
func migrate(t testing.TB, db *grelsqlite.DB, ms ...grelsqlite.Migration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := grelsqlite.Migrate(ctx, db, "", ms...); err != nil {
		t.Fatal(err)
	}
}
