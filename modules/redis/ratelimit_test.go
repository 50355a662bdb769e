package grelredis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"github.com/grelmicro/grelmicro-go/patterns/ratelimit/ratelimittest"
)

func TestRateLimitConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) grelratelimit.Backend {
		env := testenv.Redis(t)
		return grelredis.NewRateLimitBackend(testClient(t, env.URL, noRetries), grelredis.WithRateLimitPrefix(env.Prefix))
	})
}

func rateLimitShared(t *testing.T) string {
	if ratelimittest.IsChild() {
		return ""
	}
	env := testenv.Redis(t)
	return env.URL + " " + env.Prefix
}

func rateLimitSharedBackend(t *testing.T, shared string) grelratelimit.Backend {
	url, prefix, _ := strings.Cut(shared, " ")
	return grelredis.NewRateLimitBackend(testClient(t, url, noRetries), grelredis.WithRateLimitPrefix(prefix))
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

// Every decision is one EVALSHA; after SCRIPT FLUSH, one NOSCRIPT and one
// EVAL, then one EVALSHA again. State lives under {prefix}{name}:{key}
// with a TTL no longer than the time to a full limit.
func TestRateLimitOneRoundTrip(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	hook := &commandCounter{}
	client.AddHook(hook)
	b := grelredis.NewRateLimitBackend(client, grelredis.WithRateLimitPrefix(env.Prefix))
	ctx := context.Background()
	if err := b.Preload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []grelratelimit.Policy{
		{Algorithm: grelratelimit.TokenBucket, Limit: 10, Interval: time.Second},
		{Algorithm: grelratelimit.SlidingWindow, Limit: 10, Window: time.Minute},
	} {
		req := grelratelimit.Request{Name: "rt", Key: string(p.Algorithm), N: 1, Policy: p}
		for i, peek := range []bool{false, true, false} {
			req.Peek = peek
			before := hook.n.Load()
			d, err := b.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if n := hook.n.Load() - before; n != 1 || hook.last.Load() != "evalsha" {
				t.Errorf("%s decision %d: %d commands (last %v), want one evalsha", p.Algorithm, i, n, hook.last.Load())
			}
			if !d.Allowed {
				t.Errorf("%s decision %d refused", p.Algorithm, i)
			}
		}
		// Peek first, then read the TTL: the TTL only shrinks after the
		// peek, so it can exceed the peeked reset by no more than the
		// script's rounding up to whole milliseconds (and Redis's own
		// millisecond clock against TIME's microseconds).
		d, err := b.Decide(ctx, grelratelimit.Request{Name: "rt", Key: string(p.Algorithm), N: 1, Peek: true, Policy: p})
		if err != nil {
			t.Fatal(err)
		}
		key := env.Prefix + "rt:" + string(p.Algorithm)
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 {
			t.Fatalf("%s: key %s has TTL %v, %v; want one", p.Algorithm, key, ttl, err)
		}
		if ttl > d.ResetAfter+2*time.Millisecond {
			t.Errorf("%s: TTL %v longer than the time to a full limit %v", p.Algorithm, ttl, d.ResetAfter)
		}
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	req := grelratelimit.Request{Name: "rt", Key: "flushed", N: 1, Policy: grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 1, Interval: time.Second}}
	before := hook.n.Load()
	if _, err := b.Decide(ctx, req); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if n := hook.n.Load() - before; n != 2 || hook.last.Load() != "eval" {
		t.Errorf("after SCRIPT FLUSH: %d commands (last %v), want evalsha then eval", n, hook.last.Load())
	}
	before = hook.n.Load()
	if d, err := b.Decide(ctx, req); err != nil || d.Allowed {
		t.Fatalf("second decision: %+v, %v; want refused", d, err)
	}
	if n := hook.n.Load() - before; n != 1 {
		t.Errorf("after the reload: %d commands, want 1", n)
	}
	before = hook.n.Load()
	if err := b.Reset(ctx, "rt", "flushed"); err != nil {
		t.Fatal(err)
	}
	if n := hook.n.Load() - before; n != 1 {
		t.Errorf("Reset: %d commands, want 1", n)
	}
	if n, _ := client.Exists(ctx, env.Prefix+"rt:flushed").Result(); n != 0 {
		t.Error("Reset left the key")
	}
}

// The decision uses the server's clock: a client clock far off changes
// nothing, since the script never sees it. What the client can see is that
// two decisions the server makes a known time apart agree with that time.
func TestRateLimitServerClock(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	b := grelredis.NewRateLimitBackend(client, grelredis.WithRateLimitPrefix(env.Prefix))
	ctx := context.Background()
	p := grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 1, Interval: time.Hour}
	req := grelratelimit.Request{Name: "clock", Key: "k", N: 1, Policy: p}
	if _, err := b.Decide(ctx, req); err != nil {
		t.Fatal(err)
	}
	raw, err := client.HGet(ctx, env.Prefix+"clock:k", "t").Int64()
	if err != nil {
		t.Fatal(err)
	}
	server, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	tat := time.UnixMicro(raw)
	if d := tat.Sub(server); d < time.Hour-time.Second || d > time.Hour {
		t.Errorf("stored TAT %v is %v after the server's time, want one interval (1h)", tat, d)
	}
}

// A server killed under a running limiter: each degradation does what it
// says, within the call timeout; when it comes back (with an empty script
// cache) decisions are the store's again.
func TestRateLimitStoreDown(t *testing.T) {
	srv := testenv.StartRedis(t)
	client := testClient(t, srv.URL, noRetries)
	b := grelredis.NewRateLimitBackend(client)
	const timeout = 200 * time.Millisecond
	limiters := map[grelratelimit.Degradation]*grelratelimit.Limiter{}
	for _, want := range providertest.DownAnswers {
		limiters[want.Degradation] = providertest.DownLimiter(t, "down-"+string(want.Degradation), b, want.Degradation, timeout)
	}
	ctx := context.Background()
	for _, l := range limiters {
		if r, err := l.Allow(ctx, "k"); err != nil || r.Degraded() {
			t.Fatalf("store up: %+v, %v", r, err)
		}
	}
	srv.Stop()
	for _, want := range providertest.DownAnswers {
		providertest.CheckDownCalls(t, limiters[want.Degradation], want, timeout, 100*time.Millisecond)
	}
	srv.Start()
	for d, l := range limiters {
		r, err := l.Allow(ctx, "k")
		if err != nil || r.Degraded() || !r.Allowed || r.Remaining != 1 {
			t.Errorf("%s after the restart: %+v, %v; want the store's decision on an empty store", d, r, err)
		}
	}
}

// A server that accepts connections and never answers: every decision
// returns within the call timeout, degraded.
func TestRateLimitStoreHung(t *testing.T) {
	client := testClient(t, "redis://"+providertest.SilentServer(t)+"/0", noRetries)
	const timeout = 150 * time.Millisecond
	l, err := grelratelimit.New("hung", grelredis.NewRateLimitBackend(client), grelratelimit.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))),
		grelratelimit.WithDegradation(grelratelimit.FailClosed), grelratelimit.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		start := time.Now()
		r, err := l.Allow(ctx, "k")
		elapsed := time.Since(start)
		if err != nil || r.Mode != grelratelimit.ModeFailClosed || r.Allowed {
			t.Errorf("call %d: %+v, %v; want refused, fail_closed", i, r, err)
		}
		if elapsed > timeout+100*time.Millisecond {
			t.Errorf("call %d took %v, past the %v timeout", i, elapsed, timeout)
		}
		// After the first failure, PROBE_INTERVAL (1s) skips the store.
		if i > 0 && elapsed > 50*time.Millisecond {
			t.Errorf("call %d took %v: the store should not be called again within PROBE_INTERVAL", i, elapsed)
		}
	}
}

// RateLimitBackends offers each Redis client to grelratelimit.Module under
// its instance name.
func TestRateLimitBackendsModule(t *testing.T) {
	env := testenv.Redis(t)
	client := testClient(t, env.URL, noRetries)
	name := "module-" + strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(env.Prefix, "grel:test:"), ":"), ":", "-")
	t.Cleanup(func() { _ = client.Del(context.Background(), grelredis.DefaultRateLimitPrefix+name+":k") })
	var l *grelratelimit.Limiter
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))),
		grelredis.FromClient("", client),
		grelredis.RateLimitBackends,
		grelratelimit.Module,
		grelratelimit.Named(name, grelratelimit.WithBurst(3)),
		fx.Invoke(fx.Annotate(func(x *grelratelimit.Limiter) { l = x }, fx.ParamTags(grelratelimit.Tag(name)))),
	)
	app.RequireStart()
	defer app.RequireStop()
	r, err := l.Allow(context.Background(), "k")
	if err != nil || !r.Allowed || r.Degraded() || r.Remaining != 2 {
		t.Fatalf("Allow = %+v, %v", r, err)
	}
	if n, err := client.Exists(context.Background(), grelredis.DefaultRateLimitPrefix+name+":k").Result(); err != nil || n != 1 {
		t.Errorf("the state is not in Redis: %v %v", n, err)
	}
}
