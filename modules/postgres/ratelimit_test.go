package grelpostgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"github.com/grelmicro/grelmicro-go/patterns/ratelimit/ratelimittest"
)

// rateLimitEnv is a fresh schema with the rate limit table.
func rateLimitEnv(t testing.TB) testenv.PostgresEnv {
	t.Helper()
	env := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := grelpostgres.Migrate(ctx, testPool(t, env.URL), env.Schema, grelpostgres.RateLimitMigration); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestRateLimitConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) grelratelimit.Backend {
		env := rateLimitEnv(t)
		return grelpostgres.NewRateLimitBackend(testPool(t, env.URL), env.Schema)
	})
}

func rateLimitShared(t *testing.T) string {
	if ratelimittest.IsChild() {
		return ""
	}
	env := rateLimitEnv(t)
	return env.URL + " " + env.Schema
}

func rateLimitSharedBackend(t *testing.T, shared string) grelratelimit.Backend {
	url, schema, _ := strings.Cut(shared, " ")
	return grelpostgres.NewRateLimitBackend(testPool(t, url), schema)
}

// Four OS processes hammer one key: the permits granted stay within the
// token bucket's burst plus rate x elapsed.
func TestRateLimitProcessesTokenBucket(t *testing.T) {
	ratelimittest.RunProcesses(t, ratelimittest.Processes{Shared: rateLimitShared(t), Backend: rateLimitSharedBackend})
}

// The same for the sliding window, within its documented bound.
func TestRateLimitProcessesSlidingWindow(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = 100, time.Second
	ratelimittest.RunProcesses(t, ratelimittest.Processes{Shared: rateLimitShared(t), Backend: rateLimitSharedBackend, Config: cfg})
}

// Every decision is one round trip on the wire once its statement is
// prepared on the connection (the first use costs one more: pgx's default
// exec mode prepares it); a Reset is one DELETE. The stored state is in
// microseconds of the database clock.
func TestRateLimitOneRoundTrip(t *testing.T) {
	env := rateLimitEnv(t)
	tracer := &statementCounter{}
	rt := &roundTrips{}
	pool := testPool(t, env.URL, func(c *pgxpool.Config) {
		c.MaxConns = 1
		c.ConnConfig.Tracer = tracer
		c.ConnConfig.DialFunc = rt.dial
	})
	b := grelpostgres.NewRateLimitBackend(pool, env.Schema)
	ctx := context.Background()
	if err := pool.Ping(ctx); err != nil { // connect first: the handshake is not a decision's
		t.Fatal(err)
	}
	for _, p := range []grelratelimit.Policy{
		{Algorithm: grelratelimit.TokenBucket, Limit: 10, Interval: time.Second},
		{Algorithm: grelratelimit.SlidingWindow, Limit: 10, Window: time.Minute},
	} {
		for i, peek := range []bool{false, true, false, true} {
			req := grelratelimit.Request{Name: "one", Key: string(p.Algorithm), N: 1, Peek: peek, Policy: p}
			q, pr, r := tracer.queries.Load(), tracer.prepares.Load(), rt.count()
			if _, err := b.Decide(ctx, req); err != nil {
				t.Fatal(err)
			}
			statements, prepares, trips := tracer.queries.Load()-q, tracer.prepares.Load()-pr, rt.count()-r
			if statements != 1 || prepares > 1 || trips != 1+prepares {
				t.Errorf("%s decision %d: %d statements, %d round trips with %d prepares; want 1 statement, 1 + at most one prepare", p.Algorithm, i, statements, trips, prepares)
			}
			if i >= 2 && (prepares != 0 || trips != 1) {
				t.Errorf("%s decision %d (warm): %d round trips, %d prepares; want 1 and 0", p.Algorithm, i, trips, prepares)
			}
		}
	}
	q := tracer.queries.Load()
	if err := b.Reset(ctx, "one", "token_bucket"); err != nil {
		t.Fatal(err)
	}
	if n := tracer.queries.Load() - q; n != 1 {
		t.Errorf("Reset: %d statements, want 1", n)
	}
	var stored, dbNow int64
	if _, err := b.Decide(ctx, grelratelimit.Request{Name: "clock", Key: "k", N: 1,
		Policy: grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 1, Interval: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	err := pool.QueryRow(ctx, "SELECT t, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM "+
		pgx.Identifier{env.Schema, grelpostgres.RateLimitTable}.Sanitize()+" WHERE name = 'clock' AND key = 'k'").Scan(&stored, &dbNow)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(stored-dbNow) * time.Microsecond; d < time.Hour-time.Second || d > time.Hour {
		t.Errorf("stored TAT is %v after the database's time, want one interval (1h)", d)
	}
}

// Sweep deletes the rows of idle keys and only those.
func TestRateLimitSweep(t *testing.T) {
	env := rateLimitEnv(t)
	pool := testPool(t, env.URL)
	b := grelpostgres.NewRateLimitBackend(pool, env.Schema)
	ctx := context.Background()
	providertest.DecideIdleAndLive(t, b)
	n, err := b.Sweep(ctx)
	if err != nil || n != 10 {
		t.Errorf("Sweep = %d, %v; want the 10 idle keys", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{env.Schema, grelpostgres.RateLimitTable}.Sanitize()).Scan(&left); err != nil || left != 10 {
		t.Errorf("%d rows left, %v; want the 10 live keys", left, err)
	}
}

// A PostgreSQL that refuses connections (a closed port) and one that
// accepts and never answers: each degradation does what it says and no
// decision outlives the call timeout.
func TestRateLimitStoreDown(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for server, addr := range map[string]string{"closed": providertest.ClosedPort(t), "silent": providertest.SilentServer(t)} {
		pool := testPool(t, "postgres://postgres@"+addr+"/test?sslmode=disable&connect_timeout=5")
		b := grelpostgres.NewRateLimitBackend(pool, "public")
		for _, want := range providertest.DownAnswers {
			t.Run(server+"/"+string(want.Degradation), func(t *testing.T) {
				l := providertest.DownLimiter(t, "down", b, want.Degradation, timeout)
				providertest.CheckDownCalls(t, l, want, timeout, 150*time.Millisecond)
				if err := l.Reset(context.Background(), "k"); err == nil {
					t.Error("Reset on a down store succeeded")
				}
			})
		}
	}
}

// RateLimitBackends offers each pool to grelratelimit.Module under its
// instance name, with the table created by the provider's migration.
func TestRateLimitBackendsModule(t *testing.T) {
	env := testenv.Postgres(t)
	pool := testPool(t, env.URL)
	var l *grelratelimit.Limiter
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_POSTGRES_SCHEMA": env.Schema}))),
		grelpostgres.FromPool("", pool),
		grelpostgres.RateLimitBackends,
		grelratelimit.Module,
		grelratelimit.Named("api", grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow), grelratelimit.WithLimit(3)),
		fx.Invoke(fx.Annotate(func(x *grelratelimit.Limiter) { l = x }, fx.ParamTags(grelratelimit.Tag("api")))),
	)
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	r, err := l.Allow(ctx, "k")
	if err != nil || !r.Allowed || r.Degraded() || r.Remaining != 2 {
		t.Fatalf("Allow = %+v, %v", r, err)
	}
	var cur int64
	if err := pool.QueryRow(ctx, "SELECT cur FROM "+pgx.Identifier{env.Schema, grelpostgres.RateLimitTable}.Sanitize()+
		" WHERE name = 'api' AND key = 'k'").Scan(&cur); err != nil || cur != 1 {
		t.Errorf("the state is not in the table: %d %v", cur, err)
	}
}
