// Package grelratelimit is grelmicro's rate limiter: per key, a named
// [Limiter] grants or refuses permits under a token bucket or a sliding
// window, on a [Backend] shared by every replica (Redis, PostgreSQL,
// SQLite) or local to the process ([Memory]).
//
//	l, err := grelratelimit.New("api", grelratelimit.NewMemory(),
//		grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow))
//	r, err := l.Allow(ctx, clientIP)
//	if !r.Allowed { /* refuse; retry after r.RetryAfter */ }
//
// # Algorithms
//
// The algorithm is chosen in code ([WithAlgorithm]); the environment tunes
// its numbers (GREL_RATELIMIT_{NAME}_RATE, ...) and a variable of the other
// algorithm's fields is an error.
//
// Token bucket (Rate permits per Period, at most Burst held) is exact. It is
// kept as one timestamp per key, the theoretical arrival time of the
// generic cell rate algorithm (GCRA): with interval = Period/Rate, taking n
// permits moves it to max(TAT, now) + n x interval, and is allowed when the
// result is at most Burst x interval ahead of now. Over any span of length
// d, a key is granted at most Burst + floor(d / interval) permits.
//
// Sliding window (at most Limit per Window) is the two-window weighted
// approximation, chosen because it needs three numbers per key (the start
// of the current window and two counts) on every store, so that each
// decision is one script or one statement, where an exact log needs a
// timestamp per granted permit. Windows are consecutive spans of length
// Window anchored at the key's first request (not at the epoch, so keys do
// not all reset at once). At elapsed time e into the current window, the
// count over the last Window is estimated as
//
//	prev x (Window - e) / Window + cur
//
// and n permits are granted when that estimate plus n is at most Limit.
// Its precision, exactly:
//
//   - within one window of the grid, at most Limit permits are granted;
//   - over any span of length d <= Window, at most Limit x (1 + d/Window)
//     permits are granted: the overshoot over Limit is at most prev x (the
//     share of the current window that the span covers), prev being the
//     permits granted in the previous window (at most Limit), so it is
//     small for short bursts across a boundary (fixed windows allow
//     2 x Limit in an instant) and approaches, without reaching, 2 x Limit
//     only for a span of a whole Window that holds a full burst at the end
//     of one window and another near the end of the next;
//   - over any span of length d, at most Limit x (ceil(d/Window) + 1);
//   - when the previous window's permits were spread evenly, the estimate
//     is the exact count.
//
// Rejected requests are never counted, with either algorithm.
//
// # Results
//
// A [Result] says whether the permits were granted, the Limit (Burst or
// Limit), how many permits are Remaining (the largest n that AllowN would
// grant at the same instant), RetryAfter (0 when granted; otherwise the
// shortest wait after which the same n permits would be granted, for n and
// not for one) and ResetAfter (the time until the key is back to its full
// Limit). [Limiter.Peek] answers the same without consuming anything.
// [Limiter.Wait] waits for a permit within its context: it returns
// ctx.Err() as soon as the context is done, and [ErrWaitExceedsDeadline] at
// once when the permit would come after the deadline.
//
// # Backends and degradation
//
// A Backend makes each decision atomically in one round trip, with the
// store's clock, so replicas need no clock agreement. Keys are namespaced
// by the limiter's name. Each remote call is bounded by Timeout; when the
// store fails or is too slow, the Degradation policy decides
// ([FailOpen], [FailClosed] or [FallbackLocal], the default: a memory
// limiter of the same policy in each process), the [Result.Mode] says which
// happened, and the decisions metric counts it. After a failure the store
// is left alone for ProbeInterval, then probed by one decision, so a down
// store does not add Timeout to every request.
//
// # Telemetry
//
// Each decision increments the counter grel.ratelimit.decisions (allowed,
// degraded, grel.ratelimit.mode) and is a span grel.ratelimit.allow when
// a tracer provider is set. With the no-op providers (the default) both are
// skipped, and Allow on the memory backend allocates nothing.
//
// # HTTP
//
// [Middleware] limits an http.Handler per key (client address, honouring
// TRUSTED_PROXIES; a header; the route; the user), sets the RateLimit and
// RateLimit-Policy fields of draft-ietf-httpapi-ratelimit-headers-11 on
// every response, and refuses with 429, Retry-After in whole seconds rounded
// up, and an application/problem+json body (RFC 9457).
//
// # Non-guarantees
//
//   - Memory limits per process; a fleet of N replicas on memory grants up
//     to N times the limit. FallbackLocal does the same while the store is
//     down.
//   - The sliding window is an approximation, bounded as above. A
//     Reconfigure of Window, or a Memory eviction of a live key (beyond
//     MaxKeys), can let a key exceed those bounds once.
//   - Wait does not queue: under contention, waiters are served in no
//     particular order and one may starve.
//   - FailOpen grants everything while the store is down, and its Result
//     reports a full Remaining that was not measured.
package grelratelimit
