package grelpostgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// Behind PgBouncer in transaction pooling (Debian's 1.18, which has no
// prepared statement support), with more client connections than server
// connections, so that consecutive statements of one client run on
// different server connections. The control shows what the package doc
// says: pgx's default exec mode fails there. With the documented setting,
// default_query_exec_mode=exec in the connection string, the provider
// (start, migrations, readiness, under both exec and cache_describe), the
// lock conformance suite and the rate limit conformance suite pass.
func TestThroughPgBouncerTransactionPooling(t *testing.T) {
	base := testenv.Postgres(t)
	bouncer := testenv.StartPgBouncer(t, base.BaseURL)
	execURL := bouncer.URL + "&default_query_exec_mode=exec"
	bouncerPool := func(t *testing.T) *pgxpool.Pool { return testPool(t, execURL) } // 8 clients > 2 servers

	t.Run("control: pgx's default mode breaks here", func(t *testing.T) {
		pool := testPool(t, bouncer.URL)
		if pool.Config().ConnConfig.DefaultQueryExecMode.String() != "cache statement" {
			t.Fatalf("the pool's mode is %s, want pgx's default", pool.Config().ConnConfig.DefaultQueryExecMode)
		}
		ctx := context.Background()
		var mu sync.Mutex
		var broke error
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					var n int
					err := pool.QueryRow(ctx, "SELECT $1::int + $2::int", g, i).Scan(&n)
					var pgErr *pgconn.PgError
					if errors.As(err, &pgErr) && (pgErr.Code == "26000" || pgErr.Code == "42P05") {
						mu.Lock()
						broke = err
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		if broke == nil {
			t.Fatal("named prepared statements worked through the bouncer: it is not transaction pooling, the test below proves nothing")
		}
	})

	for _, mode := range []string{"exec", "cache_describe"} {
		t.Run("provider, "+mode, func(t *testing.T) {
			env := testenv.Postgres(t)
			reg := grelconfig.NewRegistry(grelconfig.Map(nil))
			p, err := grelpostgres.New("", grelpostgres.WithRegistry(reg), grelpostgres.WithConnString(bouncer.URL+"&default_query_exec_mode="+mode),
				grelpostgres.WithSchema(env.Schema), grelpostgres.WithMigrations(grelpostgres.LockMigration, grelpostgres.RateLimitMigration))
			if err != nil {
				t.Fatal(err)
			}
			providertest.Start(t, p)
			ctx := context.Background()
			b := grelpostgres.NewLockBackend(p.Pool(), env.Schema)
			var wg sync.WaitGroup
			errs := make(chan error, 80)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 10 {
						errs <- p.Ready(ctx)
						req := grellock.Request{Name: fmt.Sprint("n", g, i%3), Token: fmt.Sprint("t", i), Holder: "h", Lease: time.Second}
						if _, err := b.Acquire(ctx, req); err != nil && !errors.Is(err, grellock.ErrNotAcquired) {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("through the bouncer: %v", err)
				}
			}
		})
	}

	t.Run("lock conformance", func(t *testing.T) {
		grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
			env := testenv.Postgres(t)
			lockMigrate(t, bouncerPool(t), env.Schema)
			return func() grellock.Backend { return grelpostgres.NewLockBackend(bouncerPool(t), env.Schema) }
		}))
	})

	// The rate limit statements in exec mode through the bouncer: many
	// clients on one key get exactly the limit, a peek takes nothing, a
	// reset frees the key. (Its conformance suite needs a unit of a second
	// here, every statement being planned on each call: 40s, so the
	// direct run covers the rest.)
	t.Run("rate limit", func(t *testing.T) {
		env := testenv.Postgres(t)
		ctx := context.Background()
		pool := bouncerPool(t)
		if err := grelpostgres.Migrate(ctx, pool, env.Schema, grelpostgres.RateLimitMigration); err != nil {
			t.Fatal(err)
		}
		b := grelpostgres.NewRateLimitBackend(pool, env.Schema)
		for _, p := range []grelratelimit.Policy{
			{Algorithm: grelratelimit.TokenBucket, Limit: 10, Interval: time.Hour},
			{Algorithm: grelratelimit.SlidingWindow, Limit: 10, Window: time.Hour},
		} {
			req := grelratelimit.Request{Name: "bouncer", Key: string(p.Algorithm), N: 1, Policy: p}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 2 {
						d, err := b.Decide(ctx, req)
						if err != nil {
							errs <- err
							return
						}
						if d.Allowed {
							allowed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("%s through the bouncer: %v", p.Algorithm, err)
			}
			if n := allowed.Load(); n != p.Limit {
				t.Errorf("%s: %d of 32 allowed, want exactly %d", p.Algorithm, n, p.Limit)
			}
			peek := req
			peek.Peek = true
			if d, err := b.Decide(ctx, peek); err != nil || d.Allowed || d.Remaining != 0 {
				t.Errorf("%s peek after the limit: %+v, %v", p.Algorithm, d, err)
			}
			if err := b.Reset(ctx, req.Name, req.Key); err != nil {
				t.Fatal(err)
			}
			if d, err := b.Decide(ctx, req); err != nil || !d.Allowed || d.Remaining != p.Limit-1 {
				t.Errorf("%s after a reset: %+v, %v", p.Algorithm, d, err)
			}
		}
	})
}
