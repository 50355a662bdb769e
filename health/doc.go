// Package grelhealth runs health checks concurrently, each cached and
// bounded, and serves them as /livez, /readyz and /healthz.
//
// A [Check] is a named function of a context that returns an error (or
// details and an error). Providers and patterns contribute theirs through
// the Fx value group [ChecksGroup] (fxgrel.HealthChecksGroup); apps call
// [Checker.Register]. [Checker.RegisterLiveness] adds the rare check that a
// restart would cure.
//
// # Guarantees
//
//   - Each check runs at most once per TTL, however many requests arrive:
//     a result is reused until TTL has passed since its run finished, and
//     concurrent callers of an expired check share one run (single flight
//     per check). The request path takes no lock shared between checks:
//     serving cached results is lock-free and allocation-free
//     ([Checker.Ready]).
//   - The checks of one request run concurrently; one request waits for the
//     slowest of them, never for their sum. [Checker.Ready] and
//     [Checker.Live] (the /readyz and /livez probes) answer false as soon as
//     one critical check fails, whichever it is, without waiting for the
//     others.
//   - A caller whose context ends stops waiting (ctx.Err()) without
//     canceling the run that other callers share.
//   - A run is bounded by its timeout: its context is canceled at the
//     timeout, and the result (a [*TimeoutError]) is published at that
//     moment whatever the function does. The run's goroutine ends when the
//     function returns; no other goroutine is left behind.
//   - A panicking check is recovered and reported failed ([*PanicError], with
//     the stack in the log).
//   - Non-critical checks never make the service unready; their failures
//     show in /healthz (status "warn").
//   - Failures reach the server's log with their full error, whatever the
//     HTTP caller is allowed to see: the run that turns a check to failing
//     at warn (a panic at error, with its stack), each further failing run
//     at debug, the recovery at info. A check that stays down does not
//     repeat a warning per TTL.
//   - [Checker.Drain] turns /readyz to 503 at once and then waits the drain
//     delay; [Module] runs it on stop before the servers of [DrainGroup]
//     stop, and stops the Checker after them. The drain never uses up the
//     stop context: it leaves min(half the time left, [DrainReserve]) to the
//     hooks after it, shortening the delay (with a warning, not an error)
//     when the stop timeout is too short to hold it.
//
// # Metrics
//
// With [WithMeterProvider] ([Module] passes the app's), all with the check's
// name as grel.name: grel.health.status (gauge, 1 passing and 0 failing,
// with critical and liveness; read at collection, no point before a check's
// first result), grel.health.runs (counter, {run}) and
// grel.health.check_duration (histogram, s), both by outcome: pass, fail,
// timeout or panic. Runs are measured as they end; a request served from
// cached results measures nothing, so the probe path stays allocation-free.
// With the no-op provider, the default, nothing is created.
//
// # Non-guarantees
//
//   - A check that ignores its context cannot be stopped: Go cannot kill a
//     goroutine. It is bounded instead: its caller is answered at the
//     timeout; while the function has not returned no second run of that
//     check is started, and its result says so ([ErrStillRunning]) instead
//     of piling up goroutines; [Checker.Stop] waits for it no longer than its
//     timeout and names it in its error. At most one such goroutine exists
//     per check.
//   - "At most once per TTL" is per process: each replica runs its own
//     checks.
//   - The checker does not retry a failing check within a TTL, and has no
//     failure threshold: one failed run is a failed status until the next
//     run. Put thresholds in the probe (Kubernetes failureThreshold).
//   - /livez never runs readiness checks; it is only as good as the
//     liveness checks registered (none by default: 200 while the process
//     serves HTTP).
package grelhealth
