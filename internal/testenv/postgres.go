package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv is the shared PostgreSQL server, seen by one test.
type PostgresEnv struct {
	// URL connects with search_path set to Schema (pgx and lib/pq pass the
	// search_path parameter on to the server).
	URL string
	// BaseURL is the server's URL as configured (GREL_TEST_POSTGRES_URL).
	BaseURL string
	// Schema is a fresh schema ("t_<random>"), dropped with CASCADE at
	// cleanup.
	Schema string
}

// Postgres returns the shared PostgreSQL server with a fresh schema for the
// test. It skips the test (fails it under CI) when the server is absent.
func Postgres(t testing.TB) PostgresEnv {
	t.Helper()
	base, where := lookup(postgresURLVar)
	if base == "" {
		unavailable(t, "PostgreSQL", where, nil)
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("grelmicro testenv: %s (from %s) is not a PostgreSQL URL", postgresURLVar, where)
	}
	cfg.ConnectTimeout = pingTimeout
	at := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)

	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		unavailable(t, "PostgreSQL", at, err)
	}
	schema := "t_" + randomHex(6)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	_ = conn.Close(context.Background())
	if err != nil {
		t.Fatalf("grelmicro testenv: create schema %s on %s: %v", schema, at, err)
	}
	t.Cleanup(func() {
		if err := postgresDropSchema(cfg, schema); err != nil {
			t.Errorf("grelmicro testenv: drop schema %s on %s (close the test's pools before cleanup): %v", schema, at, err)
		}
	})
	return PostgresEnv{URL: withSearchPath(base, schema), BaseURL: base, Schema: schema}
}

func postgresDropSchema(cfg *pgx.ConnConfig, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET lock_timeout = '20s'"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	return err
}

// withSearchPath adds search_path=schema to a URL or a keyword/value DSN.
func withSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(base) + " search_path=" + schema
}

// PostgresProcess is a private PostgreSQL cluster owned by one test (initdb
// in t.TempDir(), trust authentication, user and database postgres), on its
// own loopback port. Stop, Start and Restart keep the port and the data.
type PostgresProcess struct {
	// URL is postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable.
	URL string
	// Addr is 127.0.0.1:<port>.
	Addr string

	p *process
}

// StartPostgres creates and starts a private cluster for the test (for tests
// that stop or restart the server under a client) and stops it at cleanup.
// As root the server runs as the postgres user (initdb refuses root). It
// skips the test (fails it under CI) when PostgreSQL is not installed.
func StartPostgres(t testing.TB) *PostgresProcess {
	t.Helper()
	binDir, err := postgresBinDir()
	if err != nil {
		unavailable(t, "PostgreSQL binaries", "this machine", err)
	}
	dir := t.TempDir()
	cred, err := postgresCredential(dir)
	if err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("grelmicro testenv: initdb in %s: %v\n%s", dir, err, out)
	}

	port := freePort(t)
	addr := hostPort(port)
	pp := &PostgresProcess{
		URL:  "postgres://postgres@" + addr + "/postgres?sslmode=disable",
		Addr: addr,
	}
	cfg, err := pgx.ParseConfig(pp.URL)
	if err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	cfg.ConnectTimeout = time.Second
	pp.p = &process{
		t:    t,
		name: "postgres",
		args: func() []string {
			return []string{filepath.Join(binDir, "postgres"), "-D", data,
				"-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(port),
				"-c", "unix_socket_directories=", // TCP only: no socket path length limit
				"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
				"-c", "max_connections=100", "-c", "shared_buffers=32MB"}
		},
		cred:    cred,
		dir:     dir,
		logPath: filepath.Join(dir, "postgres.log"),
		stopSig: syscall.SIGINT, // fast shutdown: clients are disconnected
		ready: func(ctx context.Context) error {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		},
	}
	pp.p.start()
	t.Cleanup(pp.p.stop)
	return pp
}

// Stop shuts the server down (fast: sessions are disconnected) and waits;
// it kills it if that takes longer than 15s.
func (p *PostgresProcess) Stop() { p.p.t.Helper(); p.p.stop() }

// Start starts the server again on the same port and data and waits until
// it accepts connections.
func (p *PostgresProcess) Start() { p.p.t.Helper(); p.p.start() }

// Restart is Stop then Start.
func (p *PostgresProcess) Restart() {
	p.p.t.Helper()
	p.p.stop()
	p.p.start()
}

// postgresBinDir finds the folder of initdb and postgres.
func postgresBinDir() (string, error) {
	if v, _ := lookup(pgBinVar); v != "" {
		if _, err := os.Stat(filepath.Join(v, "initdb")); err == nil {
			return v, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) }) // newest first
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("initdb not found (set %s or install postgresql)", pgBinVar)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgresCredential returns the credential to run initdb and postgres with:
// nil (the current user) unless we are root, then the postgres user, who is
// given the folder (and the way to it: t.TempDir's folders are 0700).
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	// t.TempDir() is <tmp>/<TestName><random>/<NNN>: open both levels.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
