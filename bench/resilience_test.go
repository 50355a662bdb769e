package bench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/avast/retry-go/v4"
	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/go-redsync/redsync/v4"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelpipeline "github.com/grelmicro/grelmicro-go/patterns/pipeline"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

// The resilience benchmarks, in one run:
//
//	go test -run '^$' -bench 'BreakerExecute|RetryFirstSuccess|Pipeline' -benchmem -cpu 1,8 . | go run ./cmd/benchratio
//
// BenchmarkBreakerExecuteShared needs the test Redis (scripts/testenv).
//
// Each peer runs with its defaults, the configuration a user gets first.

// BenchmarkBreakerExecute runs a successful call through a closed breaker
// from GOMAXPROCS goroutines at once: the hot path of every protected call.
// grel uses its in-memory backend and the consecutive-failures rule
// (gobreaker's default rule is also consecutive failures).
func BenchmarkBreakerExecute(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		cb, err := grelbreaker.NewFromConfig("bench", nil, grelbreaker.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		fn := func(context.Context) error { return nil }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := cb.Execute(ctx, fn); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[any](gobreaker.Settings{Name: "bench"})
		fn := func() (any, error) { return nil, nil }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Execute(fn); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := failsafe.With[any](circuitbreaker.NewWithDefaults[any]())
		fn := func() error { return nil }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exec.Run(fn); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRetryFirstSuccess is the cost of wrapping a call that succeeds
// at once in a retrier: what every call pays when nothing goes wrong.
func BenchmarkRetryFirstSuccess(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		r, err := grelretry.NewFromConfig("bench", grelretry.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		fn := func(context.Context) (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := grelretry.DoValue(ctx, r, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backoff", func(b *testing.B) {
		ctx := context.Background()
		fn := func() (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := backoff.Retry(ctx, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("retry-go", func(b *testing.B) {
		fn := func() (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := retry.DoWithData(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPipeline runs a successful call through retry, then a circuit
// breaker, then a 1s timeout (outer to inner), the same composition in
// both libraries.
func BenchmarkPipeline(b *testing.B) {
	b.Run("grel", func(b *testing.B) {
		r, _ := grelretry.NewFromConfig("bench", grelretry.DefaultConfig())
		cb, _ := grelbreaker.NewFromConfig("bench", nil, grelbreaker.DefaultConfig())
		to, _ := greltimeout.NewFromConfig("bench", greltimeout.Config{Duration: time.Second})
		p, err := grelpipeline.New[int](grelpipeline.WithRetry(r), grelpipeline.WithBreaker(cb), grelpipeline.WithTimeout(to))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		fn := func(context.Context) (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := failsafe.With[int](retrypolicy.NewWithDefaults[int](), circuitbreaker.NewWithDefaults[int](), timeout.New[int](time.Second))
		fn := func() (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := exec.Get(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBreakerExecuteShared runs a successful call through a closed
// breaker whose state is shared on Redis, one caller at a time, and counts
// the commands sent to Redis per call. grel admits from its local copy
// (younger than STALENESS, 1s) and records the outcome: one EVALSHA.
// gobreaker's distributed breaker reads the shared state, takes a redsync
// lock, runs the call under it, writes the state and releases the lock.
func BenchmarkBreakerExecuteShared(b *testing.B) {
	ctx := context.Background()
	client := func(b *testing.B) (*redis.Client, *roundTrips, string) {
		env := testenv.Redis(b)
		opts, err := redis.ParseURL(env.URL)
		if err != nil {
			b.Fatal(err)
		}
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(opts)
		b.Cleanup(func() { _ = c.Close() })
		rt := &roundTrips{}
		c.AddHook(rt)
		return c, rt, env.Prefix
	}
	b.Run("grel-redis", func(b *testing.B) {
		c, rt, prefix := client(b)
		backend := grelredis.NewBreakerBackend(c, grelredis.WithBreakerPrefix(prefix))
		if err := backend.Preload(ctx); err != nil {
			b.Fatal(err)
		}
		cb, err := grelbreaker.NewFromConfig("bench", backend, grelbreaker.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		fn := func(context.Context) error { return nil }
		if err := cb.Execute(ctx, fn); err != nil { // the first call reads the state
			b.Fatal(err)
		}
		rt.n.Store(0)
		b.ReportAllocs()
		for b.Loop() {
			if err := cb.Execute(ctx, fn); err != nil {
				b.Fatal(err)
			}
		}
		rt.report(b)
	})
	b.Run("gobreaker-redis", func(b *testing.B) {
		c, rt, prefix := client(b)
		store := &gobreakerStore{c: c, rs: redsync.New(redsyncgoredis.NewPool(c)), prefix: prefix, mutexes: map[string]*redsync.Mutex{}}
		cb, err := gobreaker.NewDistributedCircuitBreaker[any](store, gobreaker.Settings{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		fn := func() (any, error) { return nil, nil }
		rt.n.Store(0)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(fn); err != nil {
				b.Fatal(err)
			}
		}
		rt.report(b)
	})
}

// gobreakerStore is gobreaker's SharedDataStore on Redis, the way its
// documentation builds one: a redsync mutex per name, the state under a key.
type gobreakerStore struct {
	c       *redis.Client
	rs      *redsync.Redsync
	prefix  string
	mu      sync.Mutex
	mutexes map[string]*redsync.Mutex
}

func (s *gobreakerStore) Lock(name string) error {
	s.mu.Lock()
	m, ok := s.mutexes[name]
	if !ok {
		m = s.rs.NewMutex(s.prefix+name, redsync.WithExpiry(5*time.Second), redsync.WithTries(1))
		s.mutexes[name] = m
	}
	s.mu.Unlock()
	return m.Lock()
}

func (s *gobreakerStore) Unlock(name string) error {
	s.mu.Lock()
	m := s.mutexes[name]
	s.mu.Unlock()
	if m == nil {
		return errors.New("gobreakerStore: unlock of a mutex never locked")
	}
	_, err := m.Unlock()
	return err
}

func (s *gobreakerStore) GetData(name string) ([]byte, error) {
	v, err := s.c.Get(context.Background(), s.prefix+name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

func (s *gobreakerStore) SetData(name string, data []byte) error {
	return s.c.Set(context.Background(), s.prefix+name, data, 0).Err()
}
