// Package grelbulkhead caps the calls that run at the same time, so that a
// slow dependency cannot take every goroutine, connection or thread of a
// service with it.
//
//	b, _ := grelbulkhead.New("reports", grelbulkhead.WithMaxConcurrent(4), grelbulkhead.WithMaxWaiting(16))
//	err := b.Execute(ctx, render)
//	if errors.Is(err, grelbulkhead.ErrBulkheadFull) { /* shed: 429 */ }
//
// GREL_BULKHEAD_{NAME}_{FIELD}, then GREL_BULKHEAD_{FIELD}, tune
// MAX_CONCURRENT (default 10), MAX_WAITING (default 0: no queue) and MAX_WAIT
// (default 0: as long as the caller's context allows).
//
// # Guarantees
//
//   - At most MaxConcurrent calls hold a slot at any time (after a
//     Reconfigure that lowers it, calls in flight finish; no new one starts
//     until the count is below the new bound).
//   - At most MaxWaiting calls wait; a call beyond them, or one that waited
//     MaxWait, gets a [*FullError] (errors.Is [ErrBulkheadFull]) without
//     running. A waiting call whose context ends gets the context's error.
//   - Freed slots go to the oldest waiter first; the uncontended path is one
//     compare-and-swap and starts no goroutine.
//
// # Metrics
//
// With [WithMeterProvider] (the Fx module passes the app's), all with
// grel.name: the gauges grel.bulkhead.in_flight and grel.bulkhead.waiting
// ({call}, read at collection, so a call pays nothing for them), the counter
// grel.bulkhead.rejections ({call}; reason: full or max_wait) and the
// histogram grel.bulkhead.queue_wait (s; outcome: admitted, rejected or
// canceled) of the calls that queued. With the no-op provider, the default,
// nothing is created. The gauges' callback does not keep the bulkhead alive.
//
// # Non-guarantees
//
//   - Not strictly first come, first served: a call arriving as a slot frees
//     may take it before an older waiter.
//   - The bound is per process; it is not shared across replicas.
package grelbulkhead
