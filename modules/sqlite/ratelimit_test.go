package grelsqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"github.com/grelmicro/grelmicro-go/patterns/ratelimit/ratelimittest"
)

// rateLimitDB opens path as an app's provider would, with the table.
func rateLimitDB(t testing.TB, path string) *grelsqlite.DB {
	t.Helper()
	db := openDB(t, path)
	migrate(t, db, grelsqlite.RateLimitMigration)
	return db
}

func TestRateLimitConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) grelratelimit.Backend {
		return grelsqlite.NewRateLimitBackend(rateLimitDB(t, testenv.SQLitePath(t)))
	}, ratelimittest.WithResolution(3*time.Millisecond))
}

func rateLimitShared(t *testing.T) string {
	if ratelimittest.IsChild() {
		return ""
	}
	path := testenv.SQLitePath(t)
	rateLimitDB(t, path) // create the file and the table once
	return path
}

func rateLimitSharedBackend(t *testing.T, path string) grelratelimit.Backend {
	return grelsqlite.NewRateLimitBackend(rateLimitDB(t, path))
}

// Four OS processes hammer one key of one file: the permits granted stay
// within the token bucket's burst plus rate x elapsed. SQLite takes one
// writer at a time, and four processes on a loaded two-core machine
// manage only about 60 decisions per second, so the limits here are small
// enough that the processes contend even then (the test fails when
// nothing is denied).
func TestRateLimitProcessesTokenBucket(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
	cfg.Rate, cfg.Period, cfg.Burst = 20, time.Second, 5
	ratelimittest.RunProcesses(t, ratelimittest.Processes{Shared: rateLimitShared(t), Backend: rateLimitSharedBackend, Config: cfg,
		Resolution: 3 * time.Millisecond})
}

// The same for the sliding window, within its documented bound.
func TestRateLimitProcessesSlidingWindow(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = 20, time.Second
	ratelimittest.RunProcesses(t, ratelimittest.Processes{Shared: rateLimitShared(t), Backend: rateLimitSharedBackend, Config: cfg,
		Resolution: 3 * time.Millisecond})
}

// Sweep deletes the rows of idle keys and only those.
func TestRateLimitSweep(t *testing.T) {
	db := rateLimitDB(t, testenv.SQLitePath(t))
	b := grelsqlite.NewRateLimitBackend(db)
	ctx := context.Background()
	providertest.DecideIdleAndLive(t, b)
	n, err := b.Sweep(ctx)
	if err != nil || n != 10 {
		t.Errorf("Sweep = %d, %v; want the 10 idle keys", n, err)
	}
	var left int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+grelsqlite.RateLimitTable).Scan(&left); err != nil || left != 10 {
		t.Errorf("%d rows left, %v; want the 10 live keys", left, err)
	}
}

// A database that cannot be written (its folder removed) or is locked by
// another process's writer for longer than the call timeout: each
// degradation does what it says, within the timeout.
func TestRateLimitStoreDown(t *testing.T) {
	path := testenv.SQLitePath(t)
	db := rateLimitDB(t, path)
	b := grelsqlite.NewRateLimitBackend(db)
	// Another connection holds the write lock.
	blocker := rateLimitDB(t, path)
	ctx := context.Background()
	conn, err := blocker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck
	const timeout = 200 * time.Millisecond
	for _, want := range providertest.DownAnswers {
		t.Run(string(want.Degradation), func(t *testing.T) {
			l := providertest.DownLimiter(t, "locked", b, want.Degradation, timeout)
			providertest.CheckDownCalls(t, l, want, timeout, 150*time.Millisecond)
		})
	}
	// A database file that is gone with its folder cannot even be opened.
	gone := filepath.Join(t.TempDir(), "gone", "grel.db")
	missing := openDB(t, gone)
	if _, err := os.Stat(filepath.Dir(gone)); !os.IsNotExist(err) {
		t.Fatalf("folder exists: %v", err)
	}
	l, err := grelratelimit.New("gone", grelsqlite.NewRateLimitBackend(missing), grelratelimit.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))),
		grelratelimit.WithDegradation(grelratelimit.FailClosed), grelratelimit.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := l.Allow(ctx, "k"); err != nil || r.Mode != grelratelimit.ModeFailClosed {
		t.Errorf("on a missing database: %+v, %v; want fail_closed", r, err)
	}
}

// RateLimitBackends offers each database to grelratelimit.Module under its
// instance name, with the table created by the provider's migration.
func TestRateLimitBackendsModule(t *testing.T) {
	path := testenv.SQLitePath(t)
	var l *grelratelimit.Limiter
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_SQLITE_PATH": path}))),
		grelsqlite.Module,
		grelsqlite.RateLimitBackends,
		grelratelimit.Module,
		grelratelimit.Named("api", grelratelimit.WithBurst(3)),
		fx.Invoke(fx.Annotate(func(x *grelratelimit.Limiter) { l = x }, fx.ParamTags(grelratelimit.Tag("api")))),
	)
	app.RequireStart()
	ctx := context.Background()
	r, err := l.Allow(ctx, "k")
	if err != nil || !r.Allowed || r.Degraded() || r.Remaining != 2 {
		t.Fatalf("Allow = %+v, %v", r, err)
	}
	app.RequireStop()
	db := rateLimitDB(t, path)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+grelsqlite.RateLimitTable+" WHERE name = 'api' AND key = 'k'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the state is not in the file: %d %v", n, err)
	}
}

func TestRateLimitStatementsAreDocumented(t *testing.T) {
	for name, sql := range grelsqlite.RateLimitStatements() {
		if sql == "" {
			t.Errorf("%s: empty", name)
		}
	}
}
