// Package grelfallback replaces a failed outcome with a value or with what a
// function returns: a cached answer, a default, a degraded response.
//
//	stale := grelfallback.Func(func(ctx context.Context, err error) (Price, error) {
//		return cache.Last(ctx, sku)
//	})
//	price, err := stale.Execute(ctx, fetchPrice)
//
// When to fall back is a [grelmatch.Matcher] ([WithFallbackIf]); by default
// every error except the caller's own cancellation, so that a client that
// gave up does not get a made-up answer.
//
// # Guarantees
//
//   - The call runs once, in the caller's goroutine; the fallback runs only
//     when the matcher matches, and its value and error are returned as they
//     are.
//   - An outcome the matcher does not match is returned unchanged.
//
// # Metrics
//
// With [WithMeterProvider]: grel.fallback.fallbacks (counter, {call};
// grel.name, the [WithName]), each time the fallback replaced an outcome.
// With the no-op provider, the default, nothing is created.
//
// # Non-guarantees
//
//   - The fallback function is not protected: its own error is returned,
//     and nothing retries or bounds it (compose it inside a pipeline for
//     that).
package grelfallback
