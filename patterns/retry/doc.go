// Package grelretry runs a function again while its outcome is retryable,
// with waits that grow by a chosen algorithm, bounded by attempts, elapsed
// time and the context's deadline.
//
//	r, err := grelretry.New("payments",
//		grelretry.WithAlgorithm(grelretry.Exponential),
//		grelretry.WithRetryIf(grelmatch.Not(grelmatch.Is(ErrInvalidCard))))
//	...
//	resp, err := grelretry.DoValue(ctx, r, func(ctx context.Context) (*Response, error) {
//		return client.Charge(ctx, req)
//	})
//
// # Config
//
// GREL_RETRY_{NAME}_{FIELD}, then GREL_RETRY_{FIELD}, tune MAX_ATTEMPTS,
// MAX_ELAPSED, and the fields of the wait algorithm: DELAY (constant),
// INITIAL_DELAY (linear, exponential, fibonacci), MIN_DELAY (random),
// MAX_DELAY, FACTOR (exponential), JITTER (none, full, equal). The algorithm
// is chosen in code ([WithAlgorithm]); an instance variable that sets a field
// of another algorithm fails construction. [Retrier.Reconfigure] swaps the
// config for the next call.
//
// # Guarantees
//
//   - No goroutine per attempt: fn runs in the caller's goroutine, waits are
//     one timer reused across the attempts of a call. A first-try success
//     allocates nothing and reads the monotonic clock once (without a
//     tracer).
//   - MaxElapsed, [RetryError].Elapsed and [Event].Elapsed count from the
//     start of the first attempt: no attempt starts later than MaxElapsed
//     after it, and a slow first attempt uses up the budget like any other.
//   - The retrier never sleeps past the context's deadline: when the next
//     wait would end at or after it, it gives up at once with a
//     [*RetryError] (StopDeadline), without waiting. The same holds for
//     MaxElapsed (StopMaxElapsed).
//   - An error that carries a delay ([RetryAfter], anywhere in its chain)
//     makes the next wait at least that long.
//   - The caller's own cancellation ([grelmatch.IsCallerCanceled]) is never
//     retried and is returned as is; [Permanent] errors are never retried and
//     are returned unwrapped; errors the matcher does not match are returned
//     as is. A [*RetryError] is returned only when the retrier gave up on a
//     retryable outcome; it unwraps to the last error (and to the context's
//     error when the context stopped it) and matches [ErrExhausted].
//   - Each retry calls the [WithOnRetry] hooks, logs one debug line and adds
//     a span event; every attempt adds a span event (grel.retry.attempt) to
//     the call's span when it is recording.
//
// # Metrics
//
// With [WithMeterProvider] (the Fx modules pass the app's): grel.retry.calls
// (counter, {call}; grel.name, outcome: success, exhausted with a reason
// max_attempts, max_elapsed, deadline or context, or aborted for an error
// not retried) and grel.retry.retries (counter, {retry}; grel.name: the
// attempts after the first). Both are counted in the retrier and observed at
// collection: a call pays one atomic add (one nil check with the no-op
// provider, the default, which creates nothing).
//
// # Non-guarantees
//
//   - Attempts are not made idempotent: retry only what is safe to repeat.
//   - Waits are timer-precise, not exact: the scheduler may add latency.
//   - fn is not interrupted: a long attempt delays the decision to stop; use
//     a context deadline or greltimeout to bound each attempt.
package grelretry
