package grelsqlite_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
)

func lockFile(t testing.TB) string {
	t.Helper()
	path := testenv.SQLitePath(t)
	migrate(t, openDB(t, path), grelsqlite.LockMigration)
	return path
}

func TestLockConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		path := lockFile(t)
		return func() grellock.Backend { return grelsqlite.NewLockBackend(openDB(t, path), "") }
	}))
}

func openShared(t *testing.T) func(string) (grellock.Backend, error) {
	return func(path string) (grellock.Backend, error) {
		return grelsqlite.NewLockBackend(openDB(t, path), ""), nil
	}
}

func sharedFile(t *testing.T) string {
	if grellocktest.IsChild() {
		return ""
	}
	return lockFile(t)
}

// Three OS processes on one file contend for one lock: no two holds
// overlap, fences only increase.
func TestLockProcesses(t *testing.T) {
	grellocktest.Contend(t, grellocktest.Contention{Shared: sharedFile(t), NewBackend: openShared(t)})
}

// Killing the leading process: another leads within lease + retry interval.
func TestLeaderFailoverProcesses(t *testing.T) {
	grellocktest.Failover(t, grellocktest.FailoverConfig{Shared: sharedFile(t), NewBackend: openShared(t)})
}

// LockBackends offers each database to grellock.Module and has the provider
// create the table at start.
func TestLockBackendsModule(t *testing.T) {
	path := testenv.SQLitePath(t)
	name := grellocktest.LockName(t)
	var lock *grellock.Lock
	var election *grellock.LeaderElection
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{
			"GREL_SQLITE_PATH":                   path,
			"GREL_LEADERELECTION_RETRY_INTERVAL": "20ms",
			"GREL_LEADERELECTION_RENEW_DEADLINE": "1s",
		}))),
		grelsqlite.Module,
		grelsqlite.LockBackends,
		grellock.Module,
		grellock.Named(name),
		grellock.NamedElection(name+"-leader"),
		fx.Invoke(fx.Annotate(func(l *grellock.Lock, e *grellock.LeaderElection) { lock, election = l, e },
			fx.ParamTags(grellock.Tag(name), grellock.Tag(name+"-leader")))),
	)
	app.RequireStart()
	ctx := context.Background()
	h, err := lock.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := grelsqlite.NewLockBackend(openDB(t, path), "")
	if rec, err := other.Get(ctx, name); err != nil || rec.Token != h.Token() {
		t.Errorf("the lock is not in the file: %+v %v", rec, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !election.IsLeader() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !election.IsLeader() {
		t.Error("the election did not lead")
	}
	app.RequireStop()
	if rec, err := other.Get(ctx, name); err != nil || rec.Held() {
		t.Errorf("lock not released on stop: %+v %v", rec, err)
	}
	if rec, err := other.Get(ctx, name+"-leader"); err != nil || rec.Held() || rec.Fence == 0 {
		t.Errorf("leader lease not released on stop: %+v %v", rec, err)
	}
}
