package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PgBouncerProcess is a private PgBouncer owned by one test, in
// transaction pooling mode in front of a PostgreSQL server, on its own
// loopback port.
type PgBouncerProcess struct {
	// URL connects through the bouncer to the upstream's database, as the
	// upstream's user, with sslmode=disable. It sets no search_path: a
	// session setting means nothing in transaction pooling (qualify the
	// tables with their schema).
	URL string
	// Addr is 127.0.0.1:<port>.
	Addr string
	// PoolSize is the number of server connections the bouncer opens
	// per database and user (2): fewer than the clients, so consecutive
	// transactions of one client land on different server connections.
	PoolSize int

	p *process
}

// StartPgBouncer starts a private pgbouncer (pool_mode=transaction,
// auth_type=any, 2 server connections) in front of upstream, a
// postgres:// URL such as PostgresEnv.BaseURL, and stops it at cleanup.
// The startup parameters search_path and extra_float_digits are accepted
// and ignored. It skips the test (fails it under CI) when pgbouncer is not
// installed. As root the bouncer runs as the postgres user (it refuses
// root).
func StartPgBouncer(t testing.TB, upstream string) *PgBouncerProcess {
	t.Helper()
	bin, err := findBinary(pgbouncerVar, "pgbouncer", "/usr/sbin/pgbouncer")
	if err != nil {
		unavailable(t, "pgbouncer", "this machine", err)
	}
	up, err := pgx.ParseConfig(upstream)
	if err != nil {
		t.Fatalf("grelmicro testenv: StartPgBouncer: the upstream is not a PostgreSQL URL")
	}
	dir := t.TempDir()
	cred, err := postgresCredential(dir)
	if err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	port := freePort(t)
	addr := hostPort(port)
	const poolSize = 2
	ini := strings.Join([]string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%d user=%s", up.Host, up.Port, up.User),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(port),
		"unix_socket_dir =",
		"auth_type = any",
		"pool_mode = transaction",
		"default_pool_size = " + strconv.Itoa(poolSize),
		"max_client_conn = 200",
		"ignore_startup_parameters = extra_float_digits,search_path",
		"",
	}, "\n")
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	b := &PgBouncerProcess{
		URL:      fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", up.User, addr, up.Database),
		Addr:     addr,
		PoolSize: poolSize,
	}
	cfg, err := pgx.ParseConfig(b.URL)
	if err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	cfg.ConnectTimeout = pingTimeout
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	b.p = &process{
		t:       t,
		name:    "pgbouncer",
		args:    func() []string { return []string{bin, conf} },
		cred:    cred,
		dir:     dir,
		logPath: filepath.Join(dir, "pgbouncer.log"),
		stopSig: syscall.SIGTERM, // immediate shutdown
		ready: func(ctx context.Context) error {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			return conn.Ping(ctx)
		},
	}
	b.p.start()
	t.Cleanup(b.p.stop)
	return b
}
