// Package grelbreaker is a circuit breaker: it runs calls while they mostly
// succeed, refuses them for a while after they mostly fail, then lets a few
// trial calls decide whether to close again.
//
//	b, err := grelbreaker.New("payments", nil) // nil: in-memory state
//	...
//	resp, err := grelbreaker.ExecuteValue(ctx, b, func(ctx context.Context) (*Response, error) {
//		return client.Charge(ctx, req)
//	})
//	if errors.Is(err, grelbreaker.ErrOpen) { /* refused: the call did not run */ }
//
// # States
//
// Closed admits every call and counts outcomes; it trips to open on the
// rule chosen in code ([WithAlgorithm]): FailureThreshold failures in a row
// (ConsecutiveFailures), or a failure rate (FailureRate) or a slow-call rate
// (SlowCallRate, when SlowCallDuration is set) reached over the last
// WindowSize calls (CountWindow) or over the last Window of time in Buckets
// slices (TimeWindow), once the window holds MinCalls calls. Open refuses
// every call with an [*OpenError] (errors.Is [ErrOpen]) that says when it
// will admit again, for OpenDuration, growing by OpenDurationFactor on each
// trip that follows a failed trial, up to MaxOpenDuration. Half-open admits
// at most HalfOpenMaxCalls trial calls at a time; SuccessThreshold
// successful trials close it, one failed trial opens it again. Forced-open
// ([Breaker.ForceOpen]) refuses until [Breaker.Close].
//
// What counts as a failure is a [grelmatch.Matcher] ([WithFailureIf],
// default: any error); what counts as neither ([WithIgnoreIf], default: the
// caller's own cancellation, [grelmatch.CallerCanceled]). With
// [ExecuteValue], result predicates make a returned value a failure.
//
// # Config
//
// GREL_BREAKER_{NAME}_{FIELD}, then GREL_BREAKER_{FIELD}, tune every field
// of [Config]; fields of another algorithm at the instance address are an
// error. [Breaker.Reconfigure] applies a new config at the next call and
// keeps the state.
//
// # Shared state
//
// A [Backend] stores the state; [Memory] (the default) keeps it in this
// process, a shared store (grelredis.NewBreakerBackend) across replicas.
// On a shared store a call costs at most one round trip to read the state
// (none while the local copy is younger than Staleness and closed) and one
// to record its outcome; no lock is held while the function runs. When the
// store fails the breaker decides on local state, logs a warning, counts
// grel.breaker.store_errors, reports [Breaker.Degraded] and tells the
// [WithOnDegraded] listeners, and tries the store again at most once per
// second (or Staleness).
//
// # Guarantees
//
//   - On Memory, Execute in the closed state takes no lock, creates no span
//     and allocates nothing; concurrent successes do not share a written
//     cache line.
//   - A refused call never runs; an admitted call's error is returned as is.
//   - Listeners ([WithOnStateChange]) run outside every lock, one event at a
//     time and in the order of the transitions (on a shared store, of the
//     store's generations), with the counts from before the transition; the
//     initial state is announced at [Breaker.Start]. An event is delivered by
//     the goroutine that caused it, or by the one still delivering an earlier
//     event. State changes are logged at info with name, state and the error
//     that caused them.
//   - Half-open never admits more than HalfOpenMaxCalls trials at a time,
//     across every breaker that shares the key.
//   - Outcomes of calls admitted before a transition do not count after it:
//     not in [Breaker.Counts], not in a window, not toward a trip (the
//     grel.breaker.calls metric still counts them).
//
// # Non-guarantees
//
//   - Under concurrency, counts are exact but a transition and the outcomes
//     racing with it may land on either side of it; a run of "consecutive"
//     failures is consecutive in completion order.
//   - On a shared store, a trip made by another process is seen within
//     Staleness while calls flow (each recorded outcome also refreshes the
//     local copy); a closed local copy may admit calls up to Staleness after
//     the store opened.
//   - While degraded, replicas decide independently: the shared state is
//     neither read nor written until the store answers again, and local
//     counts are not merged into it.
//   - A [Group] bounds its breakers with an approximate LRU; a dropped
//     breaker's state on Memory is lost.
package grelbreaker
