package testenv_test

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	_ "modernc.org/sqlite"

	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1 // fail fast: the restart tests want to see the outage
	opts.DialTimeout = time.Second
	opts.DialerRetries = 1
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisIsReal(t *testing.T) {
	env := testenv.Redis(t)
	if !regexp.MustCompile(`^grel:test:[0-9a-f]{8}:$`).MatchString(env.Prefix) {
		t.Fatalf("Prefix = %q, want grel:test:<8 hex>:", env.Prefix)
	}
	c := redisClient(t, env.URL)
	ctx := ctxT(t)
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", got, err)
	}
	if err := c.Set(ctx, env.Prefix+"k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, env.Prefix+"k").Result(); err != nil || got != "v1" {
		t.Fatalf("GET = %q, %v; want v1", got, err)
	}
	// A real server runs Lua; an emulation often does not.
	if got, err := c.Eval(ctx, "return redis.call('INCRBY', KEYS[1], 41) + 1", []string{env.Prefix + "n"}).Int(); err != nil || got != 42 {
		t.Fatalf("EVAL = %d, %v; want 42", got, err)
	}
}

func TestRedisCleanupDeletesOnlyThePrefix(t *testing.T) {
	var env testenv.RedisEnv
	t.Run("inner", func(t *testing.T) {
		env = testenv.Redis(t)
		c := redisClient(t, env.URL)
		for _, k := range []string{"a", "b", "c:d"} {
			if err := c.Set(ctxT(t), env.Prefix+k, "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if env.URL == "" {
		t.Skip("inner test skipped")
	}
	outer := testenv.Redis(t)
	c := redisClient(t, env.URL)
	ctx := ctxT(t)
	// A key outside the inner prefix that shares its start must survive.
	sibling := env.Prefix[:len(env.Prefix)-1] + "x:keep"
	if err := c.Set(ctx, sibling, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	defer c.Del(context.Background(), sibling)
	if err := c.Set(ctx, outer.Prefix+"keep", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, env.Prefix+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys under %s after cleanup = %v, %v; want none", env.Prefix, keys, err)
	}
	if n, err := c.Exists(ctx, sibling, outer.Prefix+"keep").Result(); err != nil || n != 2 {
		t.Fatalf("other keys exist = %d, %v; want 2", n, err)
	}
}

func TestPostgresIsReal(t *testing.T) {
	env := testenv.Postgres(t)
	if !regexp.MustCompile(`^t_[0-9a-f]{12}$`).MatchString(env.Schema) {
		t.Fatalf("Schema = %q, want t_<12 hex>", env.Schema)
	}
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema != env.Schema {
		t.Fatalf("current_schema() = %q, %v; want %q", schema, err, env.Schema)
	}
	// An unqualified table lands in the test's schema.
	if _, err := conn.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var where string
	if err := conn.QueryRow(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'items' AND table_schema = $1", env.Schema).Scan(&where); err != nil {
		t.Fatalf("items not in %s: %v", env.Schema, err)
	}
	// Constraints are enforced by the server.
	if _, err := conn.Exec(ctx, "INSERT INTO items VALUES (1), (1)"); err == nil {
		t.Fatal("duplicate primary key accepted")
	}
}

func TestPostgresCleanupDropsTheSchema(t *testing.T) {
	var env testenv.PostgresEnv
	t.Run("inner", func(t *testing.T) {
		env = testenv.Postgres(t)
		conn, err := pgx.Connect(ctxT(t), env.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctxT(t), "CREATE TABLE t (v text)"); err != nil {
			t.Fatal(err)
		}
	})
	if env.BaseURL == "" {
		t.Skip("inner test skipped")
	}
	conn, err := pgx.Connect(ctxT(t), env.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctxT(t), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", env.Schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s count after cleanup = %d, %v; want 0", env.Schema, n, err)
	}
}

func TestSQLiteFileIsSharedAcrossConnections(t *testing.T) {
	path := testenv.SQLitePath(t)
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	writer, reader := open(), open()
	ctx := ctxT(t)
	if _, err := writer.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.ExecContext(ctx, "INSERT INTO kv VALUES ('a', 'written by one *sql.DB')"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := reader.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = 'a'").Scan(&v); err != nil || v != "written by one *sql.DB" {
		t.Fatalf("reader got %q, %v", v, err)
	}
	if _, err := reader.ExecContext(ctx, "INSERT INTO kv VALUES ('a', 'again')"); err == nil {
		t.Fatal("the second connection accepted a duplicate key: the file is not shared")
	}
}

func TestKubeLeaseCompareAndSwap(t *testing.T) {
	env := testenv.Kube(t)
	if env.Config.QPS < 100 {
		t.Fatalf("QPS = %v, want >= 100", env.Config.QPS)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := cs.CoreV1().Namespaces().Get(ctx, env.Namespace, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace %s: %v", env.Namespace, err)
	}
	leases := cs.CoordinationV1().Leases(env.Namespace)
	holder := func(s string) *string { return &s }
	created, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: holder("a")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := created.DeepCopy()
	next.Spec.HolderIdentity = holder("b")
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update at the current resourceVersion: %v", err)
	}
	if updated.ResourceVersion == created.ResourceVersion {
		t.Fatal("resourceVersion did not change on update")
	}
	stale := created.DeepCopy() // still carries the first resourceVersion
	stale.Spec.HolderIdentity = holder("c")
	_, err = leases.Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update with a stale resourceVersion: err = %v, want a Conflict", err)
	}
	got, err := leases.Get(ctx, "smoke", metav1.GetOptions{})
	if err != nil || *got.Spec.HolderIdentity != "b" {
		t.Fatalf("holder after the refused update = %v, %v; want b", got.Spec.HolderIdentity, err)
	}
}

func TestKubeCleanupRemovesTheNamespace(t *testing.T) {
	var env testenv.KubeEnv
	t.Run("inner", func(t *testing.T) {
		env = testenv.Kube(t)
		cs, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoordinationV1().Leases(env.Namespace).Create(ctxT(t), &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "left-behind"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if env.Config == nil {
		t.Skip("inner test skipped")
	}
	// The outer test takes a namespace too: its cleanup closes the idle
	// connections of the client below (client-go caches the transport).
	outer := testenv.Kube(t)
	cs, err := kubernetes.NewForConfig(outer.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Namespaces().Get(ctxT(t), env.Namespace, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s after cleanup: err = %v, want NotFound", env.Namespace, err)
	}
	l, err := cs.CoordinationV1().Leases(env.Namespace).List(ctxT(t), metav1.ListOptions{})
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("leases left in %s: %v, %v", env.Namespace, l, err)
	}
}

func TestStartRedisRestart(t *testing.T) {
	p := testenv.StartRedis(t)
	c := redisClient(t, p.URL)
	ctx := ctxT(t)
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}

	p.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded while the server is stopped")
	}

	p.Start()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after a restart: err = %v, want redis.Nil (no persistence)", err)
	}
	if err := c.Set(ctx, "k", "after", 0).Err(); err != nil {
		t.Fatal(err)
	}

	p.Restart()
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Restart: err = %v, want redis.Nil", err)
	}
}

func TestStartPostgresRestart(t *testing.T) {
	p := testenv.StartPostgres(t)
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}

	p.Stop()
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a query on the old session succeeded while the server is stopped")
	}
	if c, err := pgx.Connect(ctx, p.URL); err == nil {
		_ = c.Close(ctx)
		t.Fatal("connected while the server is stopped")
	}

	p.Start()
	conn2, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatalf("connect after Start: %v", err)
	}
	defer func() { _ = conn2.Close(context.Background()) }()
	var v int
	if err := conn2.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 7 {
		t.Fatalf("data after a restart = %d, %v; want 7 (the cluster is kept)", v, err)
	}

	p.Restart()
	if _, err := conn2.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the session survived Restart")
	}
	conn3, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatalf("connect after Restart: %v", err)
	}
	_ = conn3.Close(ctx)
}

// The bouncer pools by transaction: with one of its two server
// connections held by a transaction, two other clients take turns on the
// second one (with session pooling the third would wait for a client to
// disconnect).
func TestStartPgBouncer(t *testing.T) {
	env := testenv.Postgres(t)
	b := testenv.StartPgBouncer(t, env.BaseURL)
	ctx := ctxT(t)
	cfg, err := pgx.ParseConfig(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conns := make([]*pgx.Conn, 3)
	for i := range conns {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close(context.Background()) }()
		conns[i] = c
	}
	tx, err := conns[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	pids := make([]int, 3)
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[0]); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conns[i].QueryRow(qctx, "SELECT pg_backend_pid()").Scan(&pids[i])
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v (not transaction pooling?)", i, err)
		}
	}
	if b.PoolSize != 2 || pids[1] == pids[0] || pids[2] != pids[1] {
		t.Fatalf("backend pids %v with pool size %d: want the held one and one shared by the two other clients", pids, b.PoolSize)
	}
}

// A private apiserver: stopped, it refuses connections; started again on
// the same port, the objects written before are still there (etcd kept
// them).
func TestStartKubeRestart(t *testing.T) {
	k := testenv.StartKube(t)
	cs, err := kubernetes.NewForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	id := "holder"
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &id}}
	if _, err := cs.CoordinationV1().Leases(k.Namespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.Stop()
	if _, err := cs.CoordinationV1().Leases(k.Namespace).Get(ctx, "kept", metav1.GetOptions{}); err == nil {
		t.Fatal("a request succeeded while the apiserver is stopped")
	}
	k.Start()
	got, err := cs.CoordinationV1().Leases(k.Namespace).Get(ctx, "kept", metav1.GetOptions{})
	if err != nil || got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != id {
		t.Fatalf("the Lease after a restart: %+v, %v", got, err)
	}
	if cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig); err != nil || cfg.Host != "https://"+k.Addr {
		t.Fatalf("kubeconfig: %+v, %v", cfg, err)
	}
}
