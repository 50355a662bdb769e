package main

import (
	"encoding/json"
	"net/http"

	"go.uber.org/fx"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// ratelimitExample rate-limits GET /ratelimit/hello per client address
// with the "hello" token bucket (GREL_RATELIMIT_HELLO_RATE permits per
// GREL_RATELIMIT_HELLO_PERIOD, at most GREL_RATELIMIT_HELLO_BURST at once;
// 10 per second, burst 10 by default). Every answer carries the RateLimit
// and RateLimit-Policy fields; the eleventh request in a quick burst gets
// 429 with Retry-After and a problem+json body. Behind a reverse proxy, set
// GREL_RATELIMIT_HELLO_TRUSTED_PROXIES to its address so that the client is
// read from X-Forwarded-For. GET /ratelimit/peek shows the caller's quota
// without using any. The limiter keeps its buckets in the service's store
// (backends.go: SQLite by default, Redis or PostgreSQL when the deployment
// points there), so copies of the service share one limit per client.
var ratelimitExample = fx.Options(
	grelratelimit.Module,
	grelratelimit.Named("hello"),
	provideRoutes(func(l ratelimitDeps) []Route {
		limit := grelratelimit.Middleware(l.Hello)
		return []Route{
			{Pattern: "GET /ratelimit/hello", Handler: limit(http.HandlerFunc(hello)),
				Doc: "a greeting, rate-limited per client address (RateLimit headers, 429 past the burst)"},
			{Pattern: "GET /ratelimit/peek", Handler: peekHandler(l.Hello),
				Doc: "the caller's remaining quota on /ratelimit/hello, without using any"},
		}
	}),
)

type ratelimitDeps struct {
	fx.In
	Hello *grelratelimit.Limiter `name:"hello"`
}

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("hello\n"))
}

func peekHandler(l *grelratelimit.Limiter) http.Handler {
	key := l.ClientIPKey()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, _ := key(r)
		res, err := l.Peek(r.Context(), client)
		if err != nil {
			http.Error(w, "rate limit unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"client":             client,
			"allowed":            res.Allowed,
			"limit":              res.Limit,
			"remaining":          res.Remaining,
			"retry_after_ms":     res.RetryAfter.Milliseconds(),
			"reset_after_ms":     res.ResetAfter.Milliseconds(),
			"mode":               res.Mode.String(),
			"algorithm":          l.Config().Algorithm,
			"refill_interval_ms": l.Policy().Interval.Milliseconds(),
		})
	})
}
