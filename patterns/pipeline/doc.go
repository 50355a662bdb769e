// Package grelpipeline composes grelmicro's resilience patterns around one
// function: fallback, retry, circuit breaker, bulkhead and timeout, any
// subset of them, in a safe default order or in one given explicitly.
//
//	p, err := grelpipeline.New[*Quote](
//		grelpipeline.WithRetry(retrier),
//		grelpipeline.WithBreaker(breaker),
//		grelpipeline.WithTimeout(timeout),
//		grelpipeline.WithFallback(grelfallback.Value(staleQuote)),
//	)
//	q, err := p.Execute(ctx, client.Quote)
//
// # Order
//
// [DefaultOrder], outermost first, is fallback, retry, breaker, bulkhead,
// timeout: the fallback sees the final outcome; each retry attempt asks the
// breaker (an open breaker fails the attempt without calling the dependency
// and tells the retrier how long to wait); the breaker counts what each
// attempt met (a fired timeout, a full bulkhead); the bulkhead's queue does
// not eat an attempt's deadline; the timeout bounds each attempt. [WithOrder]
// gives another order, which must name each stage the pipeline has, once.
// [Named] declares a pipeline in Fx from the named instances of each pattern.
//
// # Guarantees
//
//   - The stages run in the caller's goroutine, outer to inner, each with
//     the semantics of its own package; the pipeline adds none of its own
//     and starts no goroutine.
//   - A pipeline is immutable: its stages' Reconfigure still applies at the
//     next call.
//
// # Non-guarantees
//
//   - The timeout bounds one attempt, not the whole call: bound that with
//     the context or the retrier's MaxElapsed.
//   - Each stage allocates a small closure per call (the patterns' own hot
//     paths stay allocation-free when used alone).
package grelpipeline
