package grelratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"go.uber.org/fx"
)

// noEnv keeps the examples independent of the process environment.
var noEnv = grelratelimit.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))

func Example() {
	// A token bucket of 3 permits, refilled at one per hour, in memory.
	l, err := grelratelimit.New("api", grelratelimit.NewMemory(), noEnv,
		grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour), grelratelimit.WithBurst(3))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 4 {
		r, _ := l.Allow(ctx, "client-1")
		fmt.Printf("allowed=%v remaining=%d retry after %v\n", r.Allowed, r.Remaining, r.RetryAfter.Round(time.Minute))
	}
	// Output:
	// allowed=true remaining=2 retry after 0s
	// allowed=true remaining=1 retry after 0s
	// allowed=true remaining=0 retry after 0s
	// allowed=false remaining=0 retry after 1h0m0s
}

func ExampleNew_slidingWindow() {
	l, err := grelratelimit.New("login", grelratelimit.NewMemory(), noEnv,
		grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow),
		grelratelimit.WithLimit(5), grelratelimit.WithWindow(time.Hour))
	if err != nil {
		panic(err)
	}
	r, _ := l.AllowN(context.Background(), "user-7", 5)
	fmt.Println(r.Allowed, r.Limit, r.Remaining, r.ResetAfter)
	r, _ = l.Allow(context.Background(), "user-7")
	fmt.Println(r.Allowed, r.RetryAfter.Round(time.Minute))
	// Output:
	// true 5 0 2h0m0s
	// false 1h12m0s
}

func ExampleNewFromConfig() {
	cfg := grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
	cfg.Rate, cfg.Period, cfg.Burst = 100, time.Minute, 20
	cfg.Degradation = grelratelimit.FailClosed
	l, err := grelratelimit.NewFromConfig("exports", grelratelimit.NewMemory(), cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Policy().Interval, l.Policy().Limit)
	// Output: 600ms 20
}

func ExampleLimiter_Peek() {
	l, _ := grelratelimit.New("api", grelratelimit.NewMemory(), noEnv, grelratelimit.WithBurst(2), grelratelimit.WithPeriod(time.Hour))
	ctx := context.Background()
	for range 3 {
		r, _ := l.Peek(ctx, "k") // consumes nothing
		fmt.Println(r.Allowed, r.Remaining)
	}
	// Output:
	// true 2
	// true 2
	// true 2
}

func ExampleLimiter_Wait() {
	l, _ := grelratelimit.New("jobs", grelratelimit.NewMemory(), noEnv,
		grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour), grelratelimit.WithBurst(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(l.Wait(ctx, "k"))
	// The next permit comes in an hour, after the deadline: Wait fails at
	// once instead of sleeping until the deadline.
	fmt.Println(l.Wait(ctx, "k"))
	// Output:
	// <nil>
	// grelratelimit: the wait would exceed the context deadline
}

func ExampleLimiter_Reset() {
	l, _ := grelratelimit.New("api", grelratelimit.NewMemory(), noEnv, grelratelimit.WithBurst(1), grelratelimit.WithPeriod(time.Hour))
	ctx := context.Background()
	_, _ = l.Allow(ctx, "k")
	r, _ := l.Allow(ctx, "k")
	fmt.Println(r.Allowed)
	_ = l.Reset(ctx, "k")
	r, _ = l.Allow(ctx, "k")
	fmt.Println(r.Allowed)
	// Output:
	// false
	// true
}

func ExampleMiddleware() {
	l, _ := grelratelimit.New("api", grelratelimit.NewMemory(), noEnv,
		grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow), grelratelimit.WithLimit(1), grelratelimit.WithWindow(time.Minute),
		grelratelimit.WithTrustedProxies("10.0.0.0/8"))
	h := grelratelimit.Middleware(l)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.0.0.5:41000"                 // the ingress proxy,
		req.Header.Set("X-Forwarded-For", "198.51.100.7") // which forwards for this client
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%d policy=%s limit=%s retry-after=%q\n", rec.Code,
			rec.Header().Get("RateLimit-Policy"), rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 policy="api";q=1;w=60 limit="api";r=0;t=120 retry-after=""
	// 429 policy="api";q=1;w=60 limit="api";r=0;t=120 retry-after="120"
}

func ExampleClientIP() {
	trusted, _ := grelratelimit.ParsePrefixes([]string{"10.0.0.0/8"})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	// A client forged the first hop; the proxy appended what it saw.
	r.Header.Set("X-Forwarded-For", "127.0.0.1, 203.0.113.50, 10.9.9.9")
	fmt.Println(grelratelimit.ClientIP(r, trusted, "X-Forwarded-For"))
	// Output: 203.0.113.50
}

func ExamplePolicy_Decide() {
	p := grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 2, Interval: time.Second}
	var s grelratelimit.State
	now := int64(time.Hour) // nanoseconds on the backend's clock
	for range 3 {
		d := p.Decide(&s, now, 1, false)
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter, d.ResetAfter)
	}
	// Output:
	// true 1 0s 1s
	// true 0 0s 2s
	// false 0 1s 2s
}

func ExampleNamed() {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_LIMIT": "50"}))),
		grelratelimit.Module, // no store offered: memory, with a warning
		grelratelimit.Named("api", grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow)),
		fx.Invoke(fx.Annotate(func(l *grelratelimit.Limiter) {
			fmt.Println(l.Name(), l.Config().Algorithm, l.Config().Limit, l.Config().Window)
		}, fx.ParamTags(grelratelimit.Tag("api")))),
	)
	if err := app.Err(); err != nil {
		panic(err)
	}
	// Output: api sliding_window 50 1m0s
}
