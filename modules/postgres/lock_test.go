package grelpostgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
)

func lockMigrate(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := grelpostgres.Migrate(ctx, pool, schema, grelpostgres.LockMigration); err != nil {
		t.Fatal(err)
	}
}

func TestLockConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		env := testenv.Postgres(t)
		lockMigrate(t, testPool(t, env.URL), env.Schema)
		return func() grellock.Backend {
			return grelpostgres.NewLockBackend(testPool(t, env.URL), env.Schema)
		}
	}))
}

func openShared(t *testing.T) func(string) (grellock.Backend, error) {
	return func(shared string) (grellock.Backend, error) {
		url, schema, _ := strings.Cut(shared, " ")
		return grelpostgres.NewLockBackend(testPool(t, url), schema), nil
	}
}

func sharedEnv(t *testing.T) string {
	if grellocktest.IsChild() {
		return ""
	}
	env := testenv.Postgres(t)
	lockMigrate(t, testPool(t, env.URL), env.Schema)
	return env.URL + " " + env.Schema
}

// Three OS processes contend for one lock: no two holds overlap, fences
// only increase.
func TestLockProcesses(t *testing.T) {
	grellocktest.Contend(t, grellocktest.Contention{Shared: sharedEnv(t), NewBackend: openShared(t)})
}

// Killing the leading process: another leads within lease + retry interval.
func TestLeaderFailoverProcesses(t *testing.T) {
	grellocktest.Failover(t, grellocktest.FailoverConfig{Shared: sharedEnv(t), NewBackend: openShared(t)})
}

// A terminated backend connection (pg_terminate_backend) while a lock is
// held: the lease lives in the table, not in the session, so the hold
// survives (the next renewal runs on another connection) and nothing hangs.
// A server that goes down: loss is signalled within the lease and the lock
// works again once it is back.
func TestLockTerminatedConnectionAndServerDown(t *testing.T) {
	srv := testenv.StartPostgres(t)
	pool := testPool(t, srv.URL, func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["application_name"] = "grel-lock-test" })
	lockMigrate(t, pool, "public")
	b := grelpostgres.NewLockBackend(pool, "public")
	const lease = 2 * time.Second
	l, err := grellock.New("terminate", b, grellocktest.NoEnv(), grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer l.Close(ctx)
	h, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	terminate := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'grel-lock-test'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 3 {
		if n := terminate(); n == 0 {
			t.Fatal("no backend of the pool to terminate")
		}
		time.Sleep(lease / 2)
	}
	if !h.Held() {
		t.Fatalf("hold lost after its connections were terminated: %v", h.Err())
	}
	other, _ := grellock.New("terminate", grelpostgres.NewLockBackend(testPool(t, srv.URL), "public"), grellocktest.NoEnv())
	if _, err := other.TryAcquire(ctx); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Fatalf("another client acquired a held lock after the terminations: %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatalf("Release after the terminations: %v", err)
	}

	h, err = l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	select {
	case <-h.Done():
	case <-time.After(lease + time.Second):
		t.Fatal("loss not signalled while PostgreSQL is down")
	}
	if !errors.Is(h.Err(), grellock.ErrLost) {
		t.Errorf("Err = %v, want ErrLost", h.Err())
	}
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	start := time.Now()
	if _, err := l.Acquire(rctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("Acquire while PostgreSQL is down: %v after %v, want its deadline", err, time.Since(start))
	}
	srv.Start()
	h2, err := l.AcquireWithin(ctx, 10*time.Second)
	if err != nil {
		t.Fatalf("acquire after PostgreSQL came back: %v", err)
	}
	if h2.Fence() <= h.Fence() {
		t.Errorf("fence after the restart %d, want more than %d (the counter is in the table)", h2.Fence(), h.Fence())
	}
	if err := h2.Release(ctx); err != nil {
		t.Error(err)
	}
}

// Every operation is one round trip to the server on a warm connection,
// counted on the wire (a write followed by the server's answer), not in
// statements, so that a prepare or a ping shows. The first use of a
// statement on a connection costs one more round trip: pgx's default exec
// mode (cache_statement) prepares it and keeps the plan for that
// connection. A connection idle for more than a second costs a ping first
// (pgxpool's default ShouldPing).
func TestLockOneRoundTrip(t *testing.T) {
	env := testenv.Postgres(t)
	tr := &statementCounter{}
	rt := &roundTrips{}
	pool := testPool(t, env.URL, func(c *pgxpool.Config) {
		c.MaxConns = 1 // one connection: "cold" is its first use of each statement
		c.ConnConfig.Tracer = tr
		c.ConnConfig.DialFunc = rt.dial
	})
	lockMigrate(t, pool, env.Schema)
	b := grelpostgres.NewLockBackend(pool, env.Schema)
	ctx := context.Background()
	req := grellock.Request{Name: "rt", Token: "tok", Holder: "w", Lease: time.Minute}
	other := grellock.Request{Name: "rt", Token: "tok2", Holder: "w2", Lease: time.Minute}
	ops := []struct {
		name string
		do   func() error
	}{
		{"acquire", func() error { _, err := b.Acquire(ctx, req); return err }},
		{"refused acquire", func() error {
			if _, err := b.Acquire(ctx, other); !errors.Is(err, grellock.ErrNotAcquired) {
				return errors.New("not refused")
			}
			return nil
		}},
		{"re-acquire", func() error { _, err := b.Acquire(ctx, req); return err }},
		{"extend", func() error { _, err := b.Extend(ctx, req); return err }},
		{"get", func() error { _, err := b.Get(ctx, "rt"); return err }},
		{"release", func() error { return b.Release(ctx, "rt", "tok") }},
	}
	for _, pass := range []string{"cold", "warm"} {
		for _, op := range ops {
			r0, p0, q0 := rt.count(), tr.prepares.Load(), tr.queries.Load()
			if err := op.do(); err != nil {
				t.Fatalf("%s %s: %v", pass, op.name, err)
			}
			trips, prepares, statements := rt.count()-r0, tr.prepares.Load()-p0, tr.queries.Load()-q0
			if statements != 1 {
				t.Errorf("%s %s: %d statements, want 1", pass, op.name, statements)
			}
			switch pass {
			case "cold":
				if prepares > 1 || trips != 1+prepares {
					t.Errorf("cold %s: %d round trips with %d prepares, want 1 + at most one prepare", op.name, trips, prepares)
				}
			case "warm":
				if trips != 1 || prepares != 0 {
					t.Errorf("warm %s: %d round trips, %d prepares; want 1 and 0", op.name, trips, prepares)
				}
			}
		}
	}
	if rt.count() == 0 {
		t.Fatal("the round-trip counter saw nothing: the pool did not dial through it")
	}
	// Idle for more than a second: pgxpool pings the connection before
	// handing it out.
	time.Sleep(1100 * time.Millisecond)
	r0 := rt.count()
	if _, err := b.Get(ctx, "rt"); err != nil {
		t.Fatal(err)
	}
	if trips := rt.count() - r0; trips != 2 {
		t.Errorf("get after 1.1s idle: %d round trips, want 2 (pgxpool's ping, then the statement)", trips)
	}
}

// LockBackends offers each pool to grellock.Module and has the provider
// create the table at start.
func TestLockBackendsModule(t *testing.T) {
	env := testenv.Postgres(t)
	pool := testPool(t, env.URL)
	name := grellocktest.LockName(t)
	var lock *grellock.Lock
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_POSTGRES_SCHEMA": env.Schema}))),
		grelpostgres.FromPool("", pool),
		grelpostgres.LockBackends,
		grellock.Module,
		grellock.Named(name),
		fx.Invoke(fx.Annotate(func(l *grellock.Lock) { lock = l }, fx.ParamTags(grellock.Tag(name)))),
	)
	app.RequireStart()
	ctx := context.Background()
	h, err := lock.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var holder string
	if err := pool.QueryRow(ctx, "SELECT holder FROM "+pgx.Identifier{env.Schema, grelpostgres.LockTable}.Sanitize()+" WHERE name = $1", name).Scan(&holder); err != nil || holder != lock.Worker() {
		t.Errorf("the lock is not in the table: %q %v", holder, err)
	}
	app.RequireStop()
	if h.Held() {
		t.Error("hold not released on stop")
	}
}
