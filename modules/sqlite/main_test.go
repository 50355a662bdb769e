package grelsqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary re-executes itself as a writer process when these are set
// (see TestTwoProcessesWrite).
const (
	writerPathEnv   = "GREL_SQLITE_TEST_WRITER_PATH"
	writerWritesEnv = "GREL_SQLITE_TEST_WRITER_WRITES"
	writerIDEnv     = "GREL_SQLITE_TEST_WRITER_ID"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(writerPathEnv); path != "" {
		os.Exit(writerProcess(path))
	}
	goleak.VerifyTestMain(m)
}

// writerProcess opens the database the way an app's provider would and
// runs read-modify-write transactions; any error (such as "database is
// locked") fails the process.
func writerProcess(path string) int {
	writes, _ := strconv.Atoi(os.Getenv(writerWritesEnv))
	id := os.Getenv(writerIDEnv)
	p, err := New("", WithPath(path), WithBusyTimeout(30*time.Second), WithMigrate(false))
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer: new:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "writer: start:", err)
		return 2
	}
	defer func() { _ = p.Stop(ctx) }()
	for i := range writes {
		if err := increment(ctx, p.DB(), id, i); err != nil {
			fmt.Fprintf(os.Stderr, "writer %s: write %d: %v\n", id, i, err)
			return 1
		}
	}
	return 0
}

// increment is a read-modify-write transaction: a lost update would show as
// a counter below the number of writes. Every 50th holds the lock for 300ms,
// longer than one busy wait of SQLite (200ms), so that the others need
// Write's retries.
func increment(ctx context.Context, db *DB, who string, i int) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
			return err
		}
		if i%50 == 49 {
			time.Sleep(300 * time.Millisecond)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE counter SET n = ? WHERE id = 1", n+1); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO writes (who, i) VALUES (?, ?)", who, i)
		return err
	})
}
