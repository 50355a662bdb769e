package grelpostgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestConnectAndPing(t *testing.T) {
	env := testenv.Postgres(t)
	p, err := New("", WithConnString(env.URL), WithSchema(env.Schema))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	if err := p.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	var n int
	if err := p.Pool().QueryRow(ctx, "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("query = %d, %v", n, err)
	}
	if in := p.Instance(); in.Pool != p.Pool() || in.Schema != env.Schema || in.Name != "" {
		t.Fatalf("Instance() = %+v", in)
	}
	providertest.RequireStopped(t, p, ErrStopped)
	if err := p.Pool().Ping(ctx); err == nil {
		t.Fatal("the owned pool still works after Stop")
	}
}

func TestStartFailsWithinDeadline(t *testing.T) {
	providertest.StartFailsWithinDeadline[*ConnectError](t, ErrUnavailable, "hunter2", func(t *testing.T, addr string) providertest.Lifecycle {
		p, err := New("", WithConnString("postgres://app:hunter2@"+addr+"/db?sslmode=disable&connect_timeout=30"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func TestServerRestart(t *testing.T) {
	srv := testenv.StartPostgres(t)
	p, err := New("", WithConnString(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	if _, err := p.Pool().Exec(ctx, "CREATE TABLE survive (n int)"); err != nil {
		t.Fatal(err)
	}
	providertest.RequireRecovers(t, p, srv, ErrUnavailable, 3*time.Second, 20*time.Second)
	if _, err := p.Pool().Exec(ctx, "INSERT INTO survive VALUES (1)"); err != nil {
		t.Fatalf("the pool does not work after the restart: %v", err)
	}
}

// A connection the app still holds when the stop ctx ends: Stop says the
// close did not finish (matching the ctx's error, counting the connection)
// instead of returning nil with a close running behind it; once the
// connection is released a later Stop sees the pool closed.
func TestStopWithConnectionInUse(t *testing.T) {
	env := testenv.Postgres(t)
	p, err := New("", WithConnString(env.URL))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	conn, err := p.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = p.Stop(stopCtx)
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Stop took %s past its 200ms ctx", took)
	}
	var ce *CloseError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || ce.InUse != 1 ||
		!strings.Contains(err.Error(), "grelpostgres: did not finish closing") || !strings.Contains(err.Error(), "1 connection still in use") {
		t.Fatalf("Stop with a connection held = %v, want a *CloseError for 1 connection", err)
	}
	if err := p.Ready(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Ready after the stop = %v, want ErrStopped", err)
	}
	conn.Release()
	again, cancelAgain := context.WithTimeout(ctx, 10*time.Second)
	defer cancelAgain()
	if err := p.Stop(again); err != nil {
		t.Fatalf("Stop once the connection is released = %v, want nil (the pool closed)", err)
	}
	if err := p.Pool().Ping(ctx); err == nil {
		t.Fatal("the pool still works after Stop")
	}
}

func TestWrapDoesNotClose(t *testing.T) {
	env := testenv.Postgres(t)
	pool, err := pgxpool.New(context.Background(), env.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	p, err := Wrap("", pool, WithSchema(env.Schema))
	if err != nil {
		t.Fatal(err)
	}
	if p.Owned() {
		t.Fatal("a wrapped pool is reported owned")
	}
	providertest.Start(t, p)
	_ = p.Stop(context.Background())
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("the app's pool was closed: %v", err)
	}
	if _, err := Wrap("", nil); err == nil {
		t.Fatal("Wrap(nil) succeeded")
	}
}

func TestTracing(t *testing.T) {
	env := testenv.Postgres(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	p, err := New("", WithConnString(env.URL), WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	// otelpgx records queries inside a trace (never as root spans).
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := p.Pool().Exec(ctx, "SELECT $1::text", "secret-arg"); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var found bool
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.String(), "secret-arg") {
				t.Errorf("span %s records a query argument", s.Name())
			}
			if strings.Contains(a.Value.String(), "SELECT $1::text") {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no span carries the query; %d spans", len(rec.Ended()))
	}
}

// pool opens a pool of its own on the test's database, as a replica would.
func pool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestMigrate(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := context.Background()
	db := pool(t, env.URL)
	// A schema that does not exist yet and needs quoting.
	schema := env.Schema + " Grel"
	t.Cleanup(func() {
		_, _ = db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	ms := []Migration{
		{Name: "t_0002_rows", SQL: "INSERT INTO {{schema}}.things (n) VALUES (1); INSERT INTO {{schema}}.things (n) VALUES (2)"},
		{Name: "t_0001_table", SQL: "CREATE TABLE {{schema}}.things (n int PRIMARY KEY)"},
	}
	count := func() int {
		var n int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".things").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		name    string
		ms      []Migration
		wantErr string
		rows    int
	}{
		{"creates the schema and applies in name order", ms, "", 2},
		{"a second run applies nothing", ms, "", 2},
		{"a new migration applies alone", append(ms, Migration{Name: "t_0003_more", SQL: "INSERT INTO {{schema}}.things VALUES (3)"}), "", 3},
		{"a failing call rolls back whole", []Migration{
			{Name: "t_0004_ok", SQL: "INSERT INTO {{schema}}.things VALUES (4)"},
			{Name: "t_0005_bad", SQL: "INSERT INTO {{schema}}.nope VALUES (5)"},
		}, "migration t_0005_bad", 3},
		{"duplicate names with different SQL", []Migration{{Name: "x", SQL: "SELECT 1"}, {Name: "x", SQL: "SELECT 2"}}, "different SQL", 3},
		{"an unnamed migration", []Migration{{SQL: "SELECT 1"}}, "no name", 3},
	}
	for _, st := range steps {
		err := Migrate(ctx, db, schema, st.ms...)
		switch {
		case st.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr) || !errors.Is(err, ErrMigration)):
			t.Fatalf("%s: error %v, want one saying %q", st.name, err, st.wantErr)
		}
		if got := count(); got != st.rows {
			t.Fatalf("%s: %d rows, want %d", st.name, got, st.rows)
		}
	}
	var names []string
	rows, _ := db.Query(ctx, "SELECT name FROM "+pgx.Identifier{schema}.Sanitize()+".grel_migrations ORDER BY name")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "t_0001_table,t_0002_rows,t_0003_more" {
		t.Fatalf("grel_migrations = %v", names)
	}
	if err := Migrate(ctx, db, schema); err != nil {
		t.Fatalf("Migrate with no migrations: %v", err)
	}
	if err := Migrate(ctx, db, "", ms...); !errors.Is(err, ErrMigration) {
		t.Fatalf("Migrate with no schema = %v", err)
	}
}

// Replicas that start at once apply each migration exactly once.
func TestMigrateConcurrentReplicas(t *testing.T) {
	env := testenv.Postgres(t)
	ctx := context.Background()
	ms := []Migration{
		{Name: "c_0001", SQL: "CREATE TABLE {{schema}}.applied (id serial PRIMARY KEY, at timestamptz DEFAULT now())"},
		{Name: "c_0002", SQL: "INSERT INTO {{schema}}.applied DEFAULT VALUES"},
	}
	const replicas = 6
	pools := make([]*pgxpool.Pool, replicas)
	for i := range pools {
		pools[i] = pool(t, env.URL)
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			errs[i] = Migrate(ctx, pools[i], env.Schema, ms...)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	var n int
	if err := pools[0].QueryRow(ctx, "SELECT count(*) FROM applied").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the insert migration ran %d times (%v), want once", n, err)
	}
}

func TestStartMigrates(t *testing.T) {
	env := testenv.Postgres(t)
	m := Migration{Name: "s_0001", SQL: "CREATE TABLE {{schema}}.started (n int)"}
	p, err := New("", WithConnString(env.URL), WithSchema(env.Schema), WithMigrations(m))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	if _, err := p.Pool().Exec(context.Background(), "INSERT INTO started VALUES (1)"); err != nil {
		t.Fatalf("Start did not migrate: %v", err)
	}
	off, err := New("", WithConnString(env.URL), WithSchema(env.Schema), WithMigrate(false),
		WithMigrations(Migration{Name: "s_0002", SQL: "CREATE TABLE {{schema}}.never (n int)"}))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, off)
	var exists bool
	_ = p.Pool().QueryRow(context.Background(), "SELECT to_regclass('never') IS NOT NULL").Scan(&exists)
	if exists {
		t.Fatal("Start migrated with Migrate off")
	}
}
