// Package greltimeout bounds a call with a deadline of its own, through the
// call's context, and tells that deadline apart from any other.
//
//	t, _ := greltimeout.New("inventory", greltimeout.WithDuration(2*time.Second))
//	stock, err := greltimeout.ExecuteValue(ctx, t, client.Stock)
//	if errors.Is(err, greltimeout.ErrTimeout) { /* our 2s fired */ }
//
// GREL_TIMEOUT_{NAME}_DURATION, then GREL_TIMEOUT_DURATION, tune the
// duration (default 10s); [Timeout.Reconfigure] applies a new one at the next
// call.
//
// # Guarantees
//
//   - A [*TimeoutError] (errors.Is [ErrTimeout]) is returned only when this
//     timeout's own deadline fired before the call returned an error. A
//     deadline of the caller's context, or one inside the call, comes back as
//     the call returned it. A call that returns a result despite the deadline
//     keeps it.
//   - The TimeoutError unwraps to the call's error, so errors.Is(err,
//     context.DeadlineExceeded) still holds for code that checks it; the
//     caller's context is not done, so grelmatch does not take it for a
//     caller cancellation and a breaker around it counts a failure.
//   - No goroutine is started: the call runs in the caller's goroutine.
//
// # Metrics
//
// With [WithMeterProvider] (the Fx module passes the app's):
// grel.timeout.timeouts (counter, {call}; grel.name), the calls that got a
// [*TimeoutError]. With the no-op provider, the default, nothing is created.
//
// # Non-guarantees
//
//   - The call is not abandoned: a function that ignores its context runs to
//     its end, and Execute returns only then.
package greltimeout
