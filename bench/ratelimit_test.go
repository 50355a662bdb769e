package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"
	uluredis "github.com/ulule/limiter/v3/drivers/store/redis"
	"golang.org/x/time/rate"

	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// Every limiter below earns 1,000,000 permits per second and holds up to
// 1,000,000,000: no decision is refused, so each benchmark measures the
// decision itself, on one key.
const (
	rlRate  = 1_000_000
	rlBurst = 1_000_000_000
)

func rlBucket(b *testing.B, backend grelratelimit.Backend) *grelratelimit.Limiter {
	cfg := grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
	cfg.Rate, cfg.Period, cfg.Burst = rlRate, time.Second, rlBurst
	cfg.Degradation, cfg.Timeout = grelratelimit.FailClosed, 5*time.Second
	l, err := grelratelimit.NewFromConfig("bench", backend, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func rlWindow(b *testing.B, backend grelratelimit.Backend) *grelratelimit.Limiter {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = rlBurst, time.Second
	cfg.Degradation, cfg.Timeout = grelratelimit.FailClosed, 5*time.Second
	l, err := grelratelimit.NewFromConfig("bench", backend, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// rlAllow calls Allow b.N times and fails on a refusal or a degradation.
func rlAllow(b *testing.B, l *grelratelimit.Limiter) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := l.Allow(ctx, "k")
		if err != nil || !r.Allowed || r.Degraded() {
			b.Fatalf("Allow = %+v, %v", r, err)
		}
	}
}

// BenchmarkAllowMemory: one in-process decision on one key ("k"). The
// grel limiters and ulule look the key up; x-time-rate-keyed is what a user
// of x/time/rate writes to key it (a map of limiters behind a mutex, one
// made per new key), and x-time-rate-single is one limiter with no key at
// all, the floor.
//
//	go test -run '^$' -bench AllowMemory -benchmem . | go run ./cmd/benchratio
func BenchmarkAllowMemory(b *testing.B) {
	b.Run("grel-tokenbucket", func(b *testing.B) { rlAllow(b, rlBucket(b, grelratelimit.NewMemory())) })
	b.Run("grel-slidingwindow", func(b *testing.B) { rlAllow(b, rlWindow(b, grelratelimit.NewMemory())) })
	b.Run("x-time-rate-single", func(b *testing.B) {
		l := rate.NewLimiter(rate.Limit(rlRate), rlBurst)
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow() {
				b.Fatal("refused")
			}
		}
	})
	b.Run("x-time-rate-keyed", func(b *testing.B) {
		l := newKeyedRate(rate.Limit(rlRate), rlBurst)
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow("k") {
				b.Fatal("refused")
			}
		}
	})
	b.Run("ulule-memory", func(b *testing.B) {
		l := limiter.New(ululememory.NewStore(), limiter.Rate{Period: time.Second, Limit: rlBurst})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			c, err := l.Get(ctx, "k")
			if err != nil || c.Reached {
				b.Fatalf("Get = %+v, %v", c, err)
			}
		}
	})
}

// keyedRate keys x/time/rate the usual way: one *rate.Limiter per key in a
// map behind a mutex, made on the key's first use.
type keyedRate struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func newKeyedRate(limit rate.Limit, burst int) *keyedRate {
	return &keyedRate{m: make(map[string]*rate.Limiter), limit: limit, burst: burst}
}

func (k *keyedRate) Allow(key string) bool {
	k.mu.Lock()
	l, ok := k.m[key]
	if !ok {
		l = rate.NewLimiter(k.limit, k.burst)
		k.m[key] = l
	}
	k.mu.Unlock()
	return l.Allow()
}

func rlRedis(b *testing.B) (*redis.Client, *roundTrips, string) {
	env := testenv.Redis(b)
	opts, err := redis.ParseURL(env.URL)
	if err != nil {
		b.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true
	c := redis.NewClient(opts)
	b.Cleanup(func() { _ = c.Close() })
	counter := &roundTrips{}
	c.AddHook(counter)
	return c, counter, env.Prefix
}

// warm makes one call before the timer, so that scripts are loaded and
// connections open.
func warm(b *testing.B, counter *roundTrips, f func() error) {
	if err := f(); err != nil {
		b.Fatal(err)
	}
	counter.n.Store(0)
	b.ResetTimer()
}

// BenchmarkAllowRedis: one decision on a shared Redis, with the round trips
// each costs.
func BenchmarkAllowRedis(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		c, counter, prefix := rlRedis(b)
		l := rlBucket(b, grelredis.NewRateLimitBackend(c, grelredis.WithRateLimitPrefix(prefix)))
		warm(b, counter, func() error { _, err := l.Allow(context.Background(), "k"); return err })
		rlAllow(b, l)
		counter.report(b)
	})
	b.Run("grel-slidingwindow", func(b *testing.B) {
		c, counter, prefix := rlRedis(b)
		l := rlWindow(b, grelredis.NewRateLimitBackend(c, grelredis.WithRateLimitPrefix(prefix)))
		warm(b, counter, func() error { _, err := l.Allow(context.Background(), "k"); return err })
		rlAllow(b, l)
		counter.report(b)
	})
	b.Run("redis_rate", func(b *testing.B) {
		c, counter, prefix := rlRedis(b)
		l := redis_rate.NewLimiter(c)
		limit := redis_rate.Limit{Rate: rlRate, Burst: rlBurst, Period: time.Second}
		ctx := context.Background()
		warm(b, counter, func() error { _, err := l.Allow(ctx, prefix+"k", limit); return err })
		b.ReportAllocs()
		for b.Loop() {
			r, err := l.Allow(ctx, prefix+"k", limit)
			if err != nil || r.Allowed != 1 {
				b.Fatalf("Allow = %+v, %v", r, err)
			}
		}
		counter.report(b)
	})
	b.Run("ulule-redis", func(b *testing.B) {
		c, counter, prefix := rlRedis(b)
		store, err := uluredis.NewStoreWithOptions(c, limiter.StoreOptions{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		l := limiter.New(store, limiter.Rate{Period: time.Second, Limit: rlBurst})
		ctx := context.Background()
		warm(b, counter, func() error { _, err := l.Get(ctx, "k"); return err })
		b.ReportAllocs()
		for b.Loop() {
			r, err := l.Get(ctx, "k")
			if err != nil || r.Reached {
				b.Fatalf("Get = %+v, %v", r, err)
			}
		}
		counter.report(b)
	})
}

// BenchmarkAllowPostgres: one decision on a shared PostgreSQL (one
// statement), with decisions per second from 16 goroutines on 16 keys.
func BenchmarkAllowPostgres(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		env := testenv.Postgres(b)
		cfg, err := pgxpool.ParseConfig(env.URL)
		if err != nil {
			b.Fatal(err)
		}
		counter := &roundTrips{}
		cfg.ConnConfig.Tracer = counter
		cfg.MaxConns = 16
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		if err := grelpostgres.Migrate(context.Background(), pool, env.Schema, grelpostgres.RateLimitMigration); err != nil {
			b.Fatal(err)
		}
		l := rlBucket(b, grelpostgres.NewRateLimitBackend(pool, env.Schema))
		warm(b, counter, func() error { _, err := l.Allow(context.Background(), "k"); return err })
		var keys atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(8) // 8 x GOMAXPROCS goroutines
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			key := "k" + string(rune('a'+keys.Add(1)%16))
			ctx := context.Background()
			for pb.Next() {
				if r, err := l.Allow(ctx, key); err != nil || !r.Allowed || r.Degraded() {
					b.Errorf("Allow = %+v, %v", r, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
		counter.report(b)
	})
}

// BenchmarkAllowSQLite: one decision on a SQLite file (one prepared
// statement in a BEGIN IMMEDIATE transaction).
func BenchmarkAllowSQLite(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		cfg := grelsqlite.DefaultConfig()
		cfg.Path = testenv.SQLitePath(b)
		db, err := grelsqlite.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		if err := grelsqlite.Migrate(context.Background(), db, "", grelsqlite.RateLimitMigration); err != nil {
			b.Fatal(err)
		}
		l := rlBucket(b, grelsqlite.NewRateLimitBackend(db))
		if _, err := l.Allow(context.Background(), "k"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		rlAllow(b, l)
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	})
}
