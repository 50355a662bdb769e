package grelredis_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
)

func TestLockConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		env := testenv.Redis(t)
		return func() grellock.Backend {
			return grelredis.NewLockBackend(testClient(t, env.URL), grelredis.WithLockPrefix(env.Prefix))
		}
	}))
}

// openShared opens a client in a child process from "URL PREFIX".
func openShared(t *testing.T) func(string) (grellock.Backend, error) {
	return func(shared string) (grellock.Backend, error) {
		url, prefix, _ := strings.Cut(shared, " ")
		return grelredis.NewLockBackend(testClient(t, url), grelredis.WithLockPrefix(prefix)), nil
	}
}

func sharedEnv(t *testing.T) string {
	if grellocktest.IsChild() {
		return ""
	}
	env := testenv.Redis(t)
	return env.URL + " " + env.Prefix
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

// A Redis restart (a crash: no persistence) while a lock is held: the loss is
// signalled within the lease, nothing hangs, and the lock works again (its
// scripts reloaded after NOSCRIPT). As docs/coordination.md says of a
// server without persistence, the record is gone: the fence starts again
// at 1 and the transitions at 0.
func TestLockRedisRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	client := testClient(t, srv.URL)
	b := grelredis.NewLockBackend(client)
	const lease = 2 * time.Second
	l, err := grellock.New("restart", b, grellocktest.NoEnv(), grellock.WithLeaseDuration(lease), grellock.WithAutoRenew(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer l.Close(ctx)
	// Two holds before the one the restart takes: fence 3.
	for range 2 {
		h, err := l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Fence() != 3 {
		t.Fatalf("fence before the restart %d, want 3", h.Fence())
	}
	srv.Restart()
	select {
	case <-h.Done():
	case <-time.After(lease + time.Second):
		t.Fatal("loss not signalled within the lease after a Redis restart")
	}
	if !errors.Is(h.Err(), grellock.ErrLost) {
		t.Errorf("Err = %v, want ErrLost", h.Err())
	}
	start := time.Now()
	if err := h.Release(ctx); !errors.Is(err, grellock.ErrNotHeld) {
		t.Errorf("Release after the restart: %v, want ErrNotHeld", err)
	}
	h2, err := l.AcquireWithin(ctx, 5*time.Second)
	if err != nil {
		t.Fatalf("acquire after the restart: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("release and re-acquire after the restart took %v", d)
	}
	if h2.Fence() != 1 {
		t.Errorf("fence after a restart without persistence %d, want 1 (the counter is lost, as documented)", h2.Fence())
	}
	if rec, err := b.Get(ctx, "restart"); err != nil || rec.Fence != 1 || rec.Transitions != 0 {
		t.Errorf("record after the restart: %+v, %v; want fence 1, transitions 0", rec, err)
	}
	if err := h2.Release(ctx); err != nil {
		t.Error(err)
	}

	// A stopped server: calls end at their deadline, the hold is lost on time.
	h3, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	select {
	case <-h3.Done():
	case <-time.After(lease + time.Second):
		t.Fatal("loss not signalled while Redis is down")
	}
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	start = time.Now()
	_, err = l.Acquire(rctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("Acquire while Redis is down: %v after %v, want its deadline", err, time.Since(start))
	}
	srv.Start()
	h4, err := l.AcquireWithin(ctx, 5*time.Second)
	if err != nil {
		t.Fatalf("acquire after Redis came back: %v", err)
	}
	if err := h4.Release(ctx); err != nil {
		t.Error(err)
	}
}

// With the persistence docs/coordination.md names (AOF, appendfsync
// always), a crash of the server keeps the lock records: fences go on
// increasing across the restart instead of starting again at 1.
func TestLockRedisRestartWithAOF(t *testing.T) {
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	client := testClient(t, srv.URL)
	b := grelredis.NewLockBackend(client)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last grellock.Record
	for i := range 3 {
		rec, err := b.Acquire(ctx, grellock.Request{Name: "aof", Token: fmt.Sprint("t", i), Holder: fmt.Sprint("w", i), Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Release(ctx, "aof", rec.Token); err != nil {
			t.Fatal(err)
		}
		last = rec
	}
	srv.Restart() // SIGKILL: a crash, not a clean shutdown
	var rec grellock.Record
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err = b.Acquire(ctx, grellock.Request{Name: "aof", Token: "after", Holder: "w-after", Lease: time.Minute})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the client's first commands meet the closed connections
	}
	if err != nil {
		t.Fatal(err)
	}
	if last.Fence != 3 || rec.Fence != 4 || rec.Transitions != 3 {
		t.Errorf("fence %d before the crash, %d after (transitions %d); want 3, 4 and 3: the AOF keeps the record", last.Fence, rec.Fence, rec.Transitions)
	}
}

// Every operation is one command (EVALSHA) once the scripts are cached. A
// private server: the test flushes its script cache.
func TestLockOneRoundTrip(t *testing.T) {
	srv := testenv.StartRedis(t)
	client := testClient(t, srv.URL)
	hook := &commandCounter{}
	client.AddHook(hook)
	b := grelredis.NewLockBackend(client)
	ctx := context.Background()
	req := grellock.Request{Name: "rt", Token: "tok", Holder: "w", Lease: time.Second}
	// Warm the server's script cache.
	_, _ = b.Acquire(ctx, req)
	_, _ = b.Extend(ctx, req)
	_ = b.Release(ctx, "rt", "tok")
	_, _ = b.Get(ctx, "rt")
	ops := []struct {
		name string
		do   func() error
	}{
		{"acquire", func() error { _, err := b.Acquire(ctx, req); return err }},
		{"re-acquire", func() error { _, err := b.Acquire(ctx, req); return err }},
		{"extend", func() error { _, err := b.Extend(ctx, req); return err }},
		{"get", func() error { _, err := b.Get(ctx, "rt"); return err }},
		{"release", func() error { return b.Release(ctx, "rt", "tok") }},
		{"refused release", func() error {
			if err := b.Release(ctx, "rt", "tok"); !errors.Is(err, grellock.ErrNotHeld) {
				return errors.New("not refused")
			}
			return nil
		}},
	}
	for _, op := range ops {
		before := hook.n.Load()
		if err := op.do(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if n := hook.n.Load() - before; n != 1 {
			t.Errorf("%s: %d round trips, want 1", op.name, n)
		}
	}

	// A server that lost its script cache answers NOSCRIPT: the script is
	// sent once (EVAL), then EVALSHA works again.
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{2, 1} {
		before := hook.n.Load()
		if _, err := b.Acquire(ctx, req); err != nil {
			t.Fatalf("acquire %d after SCRIPT FLUSH: %v", i, err)
		}
		if n := hook.n.Load() - before; n != want {
			t.Errorf("acquire %d after SCRIPT FLUSH: %d round trips, want %d", i, n, want)
		}
	}
	// Each script is reloaded on its own first use, and its answer is the
	// EVAL's: the hold is extended, read and released.
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	reloaded := []struct {
		name string
		do   func() error
	}{
		{"extend", func() error {
			rec, err := b.Extend(ctx, req)
			if err == nil && (rec.Token != "tok" || rec.Fence == 0) {
				err = fmt.Errorf("record %+v", rec)
			}
			return err
		}},
		{"get", func() error {
			rec, err := b.Get(ctx, "rt")
			if err == nil && rec.Token != "tok" {
				err = fmt.Errorf("record %+v", rec)
			}
			return err
		}},
		{"release", func() error { return b.Release(ctx, "rt", "tok") }},
	}
	for _, op := range reloaded {
		before := hook.n.Load()
		if err := op.do(); err != nil {
			t.Fatalf("%s after SCRIPT FLUSH: %v", op.name, err)
		}
		if n, last := hook.n.Load()-before, hook.last.Load(); n != 2 || last != "eval" {
			t.Errorf("%s after SCRIPT FLUSH: %d round trips (last %v), want evalsha then eval", op.name, n, last)
		}
	}
}

// LockBackends offers each Redis client to grellock.Module under its
// instance name.
func TestLockBackendsModule(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL)
	name := grellocktest.LockName(t)
	key := grelredis.DefaultLockPrefix + name
	t.Cleanup(func() { _ = client.Del(context.Background(), key) })
	var lock *grellock.Lock
	app := fxtest.New(t,
		grelredis.FromClient("", client),
		grelredis.LockBackends,
		grellock.Module,
		grellock.Named(name, grellocktest.NoEnv()),
		fx.Invoke(fx.Annotate(func(l *grellock.Lock) { lock = l }, fx.ParamTags(grellock.Tag(name)))),
	)
	app.RequireStart()
	ctx := context.Background()
	h, err := lock.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(ctx, key).Result(); err != nil || n != 1 {
		t.Errorf("the lock is not in Redis: %v %v", n, err)
	}
	app.RequireStop()
	if h.Held() {
		t.Error("hold not released on stop")
	}
	rec, err := grelredis.NewLockBackend(client).Get(ctx, name)
	if err != nil || rec.Held() || rec.Fence != h.Fence() {
		t.Errorf("record after stop = %+v, %v; want free with fence %d", rec, err, h.Fence())
	}
}

// A new acquisition answers only the fence, the transitions and the
// server's time; the record Acquire builds from them and the request is the
// one the store keeps (Get reads it back field by field).
func TestLockAcquireRecordIsStored(t *testing.T) {
	env := testenv.Redis(t)
	b := grelredis.NewLockBackend(testClient(t, env.URL), grelredis.WithLockPrefix(env.Prefix))
	ctx := context.Background()
	tests := []struct {
		name string
		meta map[string]string
	}{
		{"no metadata", nil},
		{"metadata", map[string]string{"zone": "b", "pod": "p-1"}},
		{"empty metadata", map[string]string{}},
	}
	for i, tc := range tests {
		req := grellock.Request{Name: "stored", Token: fmt.Sprint("tok-", i), Holder: "w", Lease: 1500*time.Millisecond + 300*time.Microsecond, Metadata: tc.meta}
		got, err := b.Acquire(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := b.Get(ctx, "stored")
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Metadata) == 0 && len(got.Metadata) == 0 {
			want.Metadata, got.Metadata = nil, nil // the store keeps {} and nothing alike
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Acquire returned\n%+v\nthe store keeps\n%+v", tc.name, got, want)
		}
		if got.Lease != 1501*time.Millisecond || got.Fence != uint64(i+1) {
			t.Errorf("%s: lease %v fence %d, want 1.501s (rounded up to the ms) and %d", tc.name, got.Lease, got.Fence, i+1)
		}
		if tc.meta != nil {
			tc.meta["zone"] = "changed"
			if got.Metadata["zone"] == "changed" {
				t.Errorf("%s: the record shares the request's metadata map", tc.name)
			}
		}
		if err := b.Release(ctx, "stored", req.Token); err != nil {
			t.Fatal(err)
		}
	}
}
