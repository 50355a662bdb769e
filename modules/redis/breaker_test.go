package grelredis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	"github.com/grelmicro/grelmicro-go/patterns/breaker/breakertest"
)

func breakerNoEnv() grelbreaker.Option {
	return grelbreaker.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))
}

func TestBreakerConformance(t *testing.T) {
	breakertest.Run(t, func(t *testing.T) grelbreaker.Backend {
		env := testenv.Redis(t)
		return grelredis.NewBreakerBackend(testClient(t, env.URL, noRetries), grelredis.WithBreakerPrefix(env.Prefix))
	})
}

// Every operation is one EVALSHA; after SCRIPT FLUSH, one NOSCRIPT answer
// and one EVAL. The state keys expire, except a forced-open one.
func TestBreakerOneRoundTrip(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	hook := &commandCounter{}
	client.AddHook(hook)
	b := grelredis.NewBreakerBackend(client, grelredis.WithBreakerPrefix(env.Prefix))
	ctx := context.Background()
	if err := b.Preload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, algo := range []grelbreaker.Algorithm{grelbreaker.ConsecutiveFailures, grelbreaker.CountWindow, grelbreaker.TimeWindow} {
		cfg := grelbreaker.DefaultConfig()
		cfg.Algorithm = algo
		key := "rt-" + string(algo)
		ops := []struct {
			name string
			do   func() error
		}{
			{"load", func() error { _, err := b.Load(ctx, key, &cfg); return err }},
			{"allow", func() error { _, err := b.Allow(ctx, key, &cfg); return err }},
			{"record", func() error {
				_, err := b.Record(ctx, key, &cfg, grelbreaker.Record{Outcome: grelbreaker.OutcomeFailure})
				return err
			}},
			{"set", func() error { _, err := b.Set(ctx, key, &cfg, grelbreaker.StateOpen); return err }},
		}
		for _, op := range ops {
			before := hook.n.Load()
			if err := op.do(); err != nil {
				t.Fatalf("%s %s: %v", algo, op.name, err)
			}
			if n := hook.n.Load() - before; n != 1 || hook.last.Load() != "evalsha" {
				t.Errorf("%s %s: %d commands (last %v), want one evalsha", algo, op.name, n, hook.last.Load())
			}
		}
		ttl, err := client.PTTL(ctx, env.Prefix+"{"+key+"}").Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s: TTL %v, %v; want at most an hour", algo, ttl, err)
		}
	}
	cfg := grelbreaker.DefaultConfig()
	if _, err := b.Set(ctx, "forced", &cfg, grelbreaker.StateForcedOpen); err != nil {
		t.Fatal(err)
	}
	if ttl, err := client.PTTL(ctx, env.Prefix+"{forced}").Result(); err != nil || ttl != -1 {
		t.Errorf("forced-open key TTL %v, %v; want none", ttl, err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	before := hook.n.Load()
	if _, err := b.Load(ctx, "flushed", &cfg); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if n := hook.n.Load() - before; n != 2 || hook.last.Load() != "eval" {
		t.Errorf("after SCRIPT FLUSH: %d commands (last %v), want evalsha then eval", n, hook.last.Load())
	}
}

// A breaker on Redis costs one round trip per call in the closed state
// while its local copy is fresh: the record.
func TestBreakerCallRoundTrips(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	hook := &commandCounter{}
	client.AddHook(hook)
	backend := grelredis.NewBreakerBackend(client, grelredis.WithBreakerPrefix(env.Prefix))
	if err := backend.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := grelbreaker.New("calls", backend, breakerNoEnv(), grelbreaker.WithStaleness(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = b.Execute(ctx, func(context.Context) error { return nil }) // reads, then records
	before := hook.n.Load()
	for range 10 {
		if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.n.Load() - before; n != 10 {
		t.Fatalf("%d commands for 10 calls, want 10", n)
	}
}

const breakerChildVar = "GREL_TEST_BREAKER_CHILD"

// A trip in one OS process is seen by a breaker in another within the
// staleness bound. The test binary runs itself again as the second
// process.
func TestBreakerTwoProcesses(t *testing.T) {
	const staleness = 300 * time.Millisecond
	newBreaker := func(t *testing.T, shared string) *grelbreaker.Breaker {
		url, prefix, _ := strings.Cut(shared, " ")
		b, err := grelbreaker.New("shared", grelredis.NewBreakerBackend(testClient(t, url, noRetries), grelredis.WithBreakerPrefix(prefix)),
			breakerNoEnv(), grelbreaker.WithFailureThreshold(2), grelbreaker.WithOpenDuration(time.Minute),
			grelbreaker.WithStaleness(staleness), grelbreaker.WithStoreTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if shared, ok := os.LookupEnv(breakerChildVar); ok {
		// The second process: call at a steady pace, say when it is ready
		// and when the breaker refuses.
		b := newBreaker(t, shared)
		ctx := context.Background()
		if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		fmt.Println("grel-child: ready")
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			// Calls whose caller gave up: admitted from the local copy and
			// recorded nowhere, so only the staleness bound makes this
			// process read the store again.
			cctx, cancel := context.WithCancel(ctx)
			err := b.Execute(cctx, func(ctx context.Context) error { cancel(); return ctx.Err() })
			cancel()
			if errors.Is(err, grelbreaker.ErrOpen) {
				fmt.Println("grel-child: open")
				return
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("the trip was never seen")
	}
	env := testenv.Redis(t)
	shared := env.URL + " " + env.Prefix
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBreakerTwoProcesses$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), breakerChildVar+"="+shared)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	var output strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			output.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "grel-child: ") {
				lines <- strings.TrimPrefix(sc.Text(), "grel-child: ")
			}
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok || got != want {
				t.Fatalf("child said %q, want %q:\n%s%s", got, want, output.String(), stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("child never said %q:\n%s", want, output.String())
		}
	}
	expect("ready")
	a := newBreaker(t, shared)
	for range 2 {
		_ = a.Execute(context.Background(), func(context.Context) error { return errors.New("down") })
	}
	if a.State() != grelbreaker.StateOpen {
		t.Fatalf("this process's breaker did not trip: %s", a.State())
	}
	tripped := time.Now()
	expect("open")
	// The child calls every 20ms and reads the store only when its copy is
	// older than the staleness; the slack is for a loaded machine.
	seen := time.Since(tripped)
	if seen > staleness+500*time.Millisecond {
		t.Fatalf("the other process saw the trip after %v, bound %v", seen, staleness)
	}
	t.Logf("the other process saw the trip after %v (staleness %v)", seen, staleness)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, output.String(), stderr.String())
	}
}

// When Redis is down the breaker decides on local state and says so; when
// it is back, the breaker is back on the shared state.
func TestBreakerStoreDown(t *testing.T) {
	srv := testenv.StartRedis(t)
	backend := grelredis.NewBreakerBackend(testClient(t, srv.URL, noRetries))
	var degraded atomic.Int64
	b, err := grelbreaker.New("flaky", backend, breakerNoEnv(), grelbreaker.WithFailureThreshold(2),
		grelbreaker.WithStaleness(0), grelbreaker.WithStoreTimeout(500*time.Millisecond),
		grelbreaker.WithOnDegraded(func(ev grelbreaker.DegradedEvent) {
			if ev.Degraded {
				degraded.Add(1)
			} else {
				degraded.Add(-1)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil || b.Degraded() {
		t.Fatalf("healthy: %v, degraded %v", err, b.Degraded())
	}
	srv.Stop()
	ran := false
	if err := b.Execute(ctx, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("a down store must not fail the call: %v, ran %v", err, ran)
	}
	if !b.Degraded() || degraded.Load() != 1 {
		t.Fatalf("degraded %v, events %d", b.Degraded(), degraded.Load())
	}
	// The local state trips on its own.
	for range 2 {
		_ = b.Execute(ctx, func(context.Context) error { return errors.New("down") })
	}
	if err := b.Execute(ctx, func(context.Context) error { return nil }); !errors.Is(err, grelbreaker.ErrOpen) {
		t.Fatalf("local state: %v", err)
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for b.Degraded() && time.Now().Before(deadline) {
		_ = b.Execute(ctx, func(context.Context) error { return nil })
		time.Sleep(50 * time.Millisecond)
	}
	if b.Degraded() {
		t.Fatal("still degraded 10s after the store came back")
	}
	if degraded.Load() != 0 || b.State() != grelbreaker.StateClosed {
		t.Fatalf("events %d, state %s", degraded.Load(), b.State())
	}
}

// BreakerBackends offers Redis to grelbreaker.Module.
func TestBreakerBackendsModule(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	var b *grelbreaker.Breaker
	app := fxtest.New(t,
		grelredis.FromClient("", client),
		grelredis.BreakerBackends,
		grelbreaker.Module,
		grelbreaker.Named(env.Prefix+"payments", breakerNoEnv()),
		fx.Populate(fx.Annotate(&b, fx.ParamTags(grelbreaker.Tag(env.Prefix+"payments")))),
	)
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	if err := b.ForceOpen(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(ctx, grelredis.DefaultBreakerPrefix+"{"+env.Prefix+"payments}").Result(); err != nil || n != 1 {
		t.Fatalf("the breaker's state is not in Redis: %d, %v", n, err)
	}
	if !strings.Contains(b.String(), "redis") {
		t.Fatalf("backend %s", b)
	}
	_ = client.Del(ctx, grelredis.DefaultBreakerPrefix+"{"+env.Prefix+"payments}").Err()
}
