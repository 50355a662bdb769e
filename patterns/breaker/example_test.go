package grelbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
)

func ExampleBreaker_Execute() {
	b, err := grelbreaker.NewFromConfig("payments", nil, grelbreaker.DefaultConfig(),
		grelbreaker.WithFailureThreshold(2), grelbreaker.WithOpenDuration(time.Minute))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		err := b.Execute(ctx, func(context.Context) error { return errors.New("connection refused") })
		fmt.Println(err, errors.Is(err, grelbreaker.ErrOpen))
	}
	// Output:
	// connection refused false
	// connection refused false
	// grelbreaker: payments: open, admits calls again in 1m0s true
}

func ExampleExecuteValue() {
	// 5xx responses are failures even without an error.
	b, _ := grelbreaker.NewFromConfig("quotes", nil, grelbreaker.DefaultConfig(),
		grelbreaker.WithFailureThreshold(1),
		grelbreaker.WithFailureIf(grelmatch.Or(grelmatch.AnyError(), grelmatch.Result(func(code int) bool { return code >= 500 }))))
	ctx := context.Background()
	code, err := grelbreaker.ExecuteValue(ctx, b, func(context.Context) (int, error) { return 503, nil })
	fmt.Println(code, err, b.State())
	// Output: 503 <nil> open
}

func ExampleBreaker_Allow() {
	b, _ := grelbreaker.NewFromConfig("legacy", nil, grelbreaker.DefaultConfig())
	done, err := b.Allow(context.Background())
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	// ... the call that cannot be wrapped in a function ...
	done(nil)
	fmt.Println(b.State(), b.Counts().Successes)
	// Output: closed 1
}

func ExampleWithOnStateChange() {
	b, _ := grelbreaker.NewFromConfig("inventory", nil, grelbreaker.DefaultConfig(),
		grelbreaker.WithFailureThreshold(1),
		grelbreaker.WithOnStateChange(func(ev grelbreaker.Event) {
			fmt.Printf("%s: %s -> %s after %d failure(s), initial=%v\n", ev.Name, ev.From, ev.To, ev.Counts.Failures, ev.Initial)
		}))
	ctx := context.Background()
	_ = b.Start(ctx)
	_ = b.Execute(ctx, func(context.Context) error { return errors.New("timeout") })
	// Output:
	// inventory: closed -> closed after 0 failure(s), initial=true
	// inventory: closed -> open after 1 failure(s), initial=false
}

func ExampleGroup() {
	hosts, _ := grelbreaker.NewGroupFromConfig("upstreams", nil, grelbreaker.DefaultConfig(), grelbreaker.WithFailureThreshold(1))
	ctx := context.Background()
	_ = hosts.Execute(ctx, "10.0.0.1", func(context.Context) error { return errors.New("refused") })
	fmt.Println(hosts.Get("10.0.0.1").State(), hosts.Get("10.0.0.2").State())
	// Output: open closed
}

func ExampleBreaker_ForceOpen() {
	b, _ := grelbreaker.NewFromConfig("billing", nil, grelbreaker.DefaultConfig())
	ctx := context.Background()
	_ = b.ForceOpen(ctx) // maintenance: refuse until Close
	fmt.Println(b.Execute(ctx, func(context.Context) error { return nil }))
	_ = b.Close(ctx)
	fmt.Println(b.Execute(ctx, func(context.Context) error { return nil }))
	// Output:
	// grelbreaker: billing: forced open
	// <nil>
}
