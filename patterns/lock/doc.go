// Package grellock is grelmicro's coordination: a distributed [Lock], a
// [TaskLock] that runs a scheduled task once across replicas, and a
// [LeaderElection], all three on one small [Backend] interface. [Memory]
// implements it here; the providers implement it on Redis, PostgreSQL,
// SQLite and Kubernetes Leases (grelredis.NewLockBackend, ...), and every
// implementation passes the conformance suite in package grellocktest.
//
// # Guarantees
//
//   - Mutual exclusion by lease: the store grants a name to one token at a
//     time, for a lease it measures on its own clock (Kubernetes: on the
//     clocks of its clients). Each operation is one round trip on Redis,
//     PostgreSQL and SQLite; on Kubernetes an acquisition is a get and an
//     update, a renewal one update (see [Backend]).
//   - Fencing: each acquisition gets a fence ([Hold.Fence]) minted by the
//     store, greater than every earlier acquisition's of the same name
//     (across release, re-acquire and takeover).
//   - Loss is signalled on time: a hold counts as lost at t0 + lease -
//     [SafetyMargin] when no renewal succeeded (t0 is taken before the
//     request leaves), even when the store hangs: each store call is bounded
//     by that deadline. [Hold.Context] and [Hold.Done] report it, with a
//     [*LostError] as the cause.
//   - Token-based release and extend: a holder whose lease expired and was
//     taken gets [ErrNotHeld] and cannot touch the new holder's lease.
//     Acquiring again with the same token while the lease is valid extends
//     it (same fence); after expiry it is a new acquisition with a new fence.
//   - Reentrancy is detected: acquiring a lock with a context that carries a
//     hold of it returns [ErrReentrant] at once instead of waiting for a
//     lease only the caller can free.
//   - Every type is safe for concurrent use; two goroutines of one process
//     exclude each other like two processes (each acquisition has its own
//     token; the worker identity only names the holder).
//   - Waiting is cancellable: Acquire returns ctx's error as-is, promptly.
//   - Elections: OnStoppedLeading only after OnStartedLeading; a candidate
//     keeps campaigning after a loss; stopping releases the lease so a
//     successor leads at its next attempt; LeaseDuration > RenewDeadline >
//     1.2 x RetryInterval is validated, and so is a gap of at least
//     [SafetyMargin](LeaseDuration) between LeaseDuration and RenewDeadline.
//
// # Non-guarantees
//
//   - A lease is not a proof of exclusion in the face of pauses: a holder
//     stopped (GC pause, SIGSTOP, a frozen VM) past its deadline, or a
//     network that delays a write past it, can act after another holder has
//     the lock. Only the resource can close that gap: send the fence with
//     every write and have the resource refuse fences lower than the highest
//     it has seen.
//   - Lease expiry is measured by the store (Redis, PostgreSQL, SQLite: their
//     clocks) while loss is signalled on the local clock; the margin covers
//     drift between them over one lease, not a clock that jumps. The
//     Kubernetes backend compares renewTime, written by the holder, with the
//     reader's clock, like Kubernetes' own readers: node clocks must agree
//     within the margin.
//   - Failover of the store can lose locks (an asynchronous Redis replica
//     promoted without the key, a PostgreSQL failover that loses the last
//     commits); the fence still never repeats on a store that keeps its
//     counter, and the holder learns at its next renewal.
//   - No fairness: waiters poll (every RetryInterval, shortened by Jitter);
//     the first to ask after a release wins.
//   - Memory locks exclude the goroutines of one process only.
//
// # Metrics
//
// With [WithMeterProvider] (the Fx module passes the app's), every metric
// carries grel.name and grel.backend. A Lock: grel.lock.acquisitions
// (counter, {acquisition}) and grel.lock.acquire_wait (histogram, s), both
// by outcome (acquired, not_acquired, error, reentrant), one per call of
// TryAcquire, Acquire, AcquireWithin or Do; grel.lock.holds_lost (counter,
// {hold}); grel.lock.held (gauge, {hold}: the holds valid now). A TaskLock:
// grel.tasklock.runs (counter, {run}) by outcome (ran, failed, lost,
// skipped, error). A LeaderElection: grel.leaderelection.is_leader (gauge,
// 1 or 0, observed from construction) and grel.leaderelection.transitions
// (counter, {transition}) by state (leader, follower, stopped). Each:
// grel.<pattern>.renew_failures (counter, {renewal}) by reason
// (store_error, not_held). Gauges are read at collection, without marking a
// hold lost, by a callback that does not keep the instance alive (a Lock's
// ends at Close). With the no-op provider, the default, nothing is created
// and the hot paths pay a nil check.
//
// # Config
//
// Each instance resolves its config through grelconfig:
// GREL_LOCK_{NAME}_{FIELD}, GREL_TASKLOCK_{NAME}_{FIELD} and
// GREL_LEADERELECTION_{NAME}_{FIELD}, then the kind's variable, then the
// default (see [Config], [TaskConfig], [ElectionConfig]). Reconfigure swaps
// timings for the next operation; the worker identity cannot change.
package grellock
