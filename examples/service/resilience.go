package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/fx"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelpipeline "github.com/grelmicro/grelmicro-go/patterns/pipeline"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

// resilienceExample protects one route with a pipeline: GET /resilience/quote
// asks an in-process quote service through a retrier, a circuit breaker and
// a timeout (GREL_RETRY_QUOTE_*, GREL_BREAKER_QUOTE_*,
// GREL_TIMEOUT_QUOTE_DURATION), with a fallback answer when all of them
// give up. POST /resilience/outage?calls=N makes the next N calls of the
// quote service fail, to watch the retries, then the breaker opening, then
// the fallback.
var resilienceExample = fx.Options(
	grelbreaker.Module,
	grelretry.Named("quote"),
	grelbreaker.Named("quote"),
	greltimeout.Named("quote"),
	grelpipeline.Named[string]("quote",
		grelpipeline.Uses{Retry: "quote", Breaker: "quote", Timeout: "quote"},
		grelpipeline.WithFallback(grelfallback.Value("no quote right now, try again later"))),
	fx.Provide(func() *quoteService { return &quoteService{} }),
	provideRoutes(func(d quoteDeps) []Route {
		return []Route{
			{Pattern: "GET /resilience/quote", Handler: http.HandlerFunc(d.quote),
				Doc: "a quote through retry, circuit breaker and timeout, with a fallback"},
			{Pattern: "POST /resilience/outage", Handler: http.HandlerFunc(d.outage),
				Doc: "make the next ?calls=N calls of the quote service fail"},
		}
	}),
)

type quoteDeps struct {
	fx.In
	Pipeline *grelpipeline.Pipeline[string] `name:"quote"`
	Breaker  *grelbreaker.Breaker           `name:"quote"`
	Service  *quoteService
}

// quoteService stands for a remote dependency that can fail.
type quoteService struct {
	failing atomic.Int64
	calls   atomic.Int64
}

var errQuoteDown = errors.New("quote service unavailable")

func (s *quoteService) Quote(ctx context.Context) (string, error) {
	s.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if s.failing.Add(-1) >= 0 {
		return "", errQuoteDown
	}
	s.failing.Store(0)
	return "The best way to predict the future is to invent it.", nil
}

// quoteBudget bounds a whole request: the retrier never waits past it (an
// open breaker's wait is longer, so the fallback answers at once).
const quoteBudget = 3 * time.Second

func (d quoteDeps) quote(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), quoteBudget)
	defer cancel()
	before := d.Service.calls.Load()
	q, err := d.Pipeline.Execute(ctx, d.Service.Quote)
	status := http.StatusOK
	if err != nil {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{
		"quote":   q,
		"calls":   d.Service.calls.Load() - before,
		"breaker": d.Breaker.State().String(),
	}
	if err != nil {
		body["error"] = err.Error()
	}
	writeJSON(w, status, body)
}

func (d quoteDeps) outage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("calls"))
	if err != nil || n < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "calls must be a number of calls, 0 or more"})
		return
	}
	d.Service.failing.Store(int64(n))
	writeJSON(w, http.StatusOK, map[string]int{"failing_calls": n})
}
