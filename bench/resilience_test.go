package bench

import (
	"context"
	"testing"
	"time"

	"github.com/avast/retry-go/v4"
	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelpipeline "github.com/grelmicro/grelmicro-go/patterns/pipeline"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

// The resilience benchmarks, in one run:
//
//	go test -run '^$' -bench 'BreakerExecute|RetryFirstSuccess|Pipeline' -benchmem -cpu 1,8 . | go run ./cmd/benchratio
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
