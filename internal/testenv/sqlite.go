package testenv

import (
	"path/filepath"
	"testing"
)

// SQLitePath returns the path of a database file that does not exist yet,
// in a folder of its own under t.TempDir() (removed at cleanup, with the
// -wal and -shm files beside it). Open it with as many *sql.DB (or
// processes) as the test needs: the file is the real server.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "grel.db")
}
