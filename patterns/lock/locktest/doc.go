// Package grellocktest is the conformance suite of grellock.Backend, and a
// multi-process contention harness, for every adapter (memory, Redis,
// PostgreSQL, SQLite, Kubernetes) and any third-party one.
//
// [Run] checks the rules of the Backend contract through the raw interface
// and through Lock, TaskLock and LeaderElection: mutual exclusion with 50
// goroutines over two clients, expiry takeover, fences strictly increasing
// across release, re-acquire and takeover, a stale holder's release and
// extend refused, reentrancy, cancellation while waiting, a released lock
// picked up within one retry interval, and leader election basics. It uses
// real time with short leases (one second, the granularity of a Kubernetes
// Lease), so it takes a few tens of seconds.
//
// [Contend] and [Failover] run several OS processes (the test binary,
// re-running the calling test in a child role; no TestMain needed) against
// one store: every hold is recorded with its
// wall-clock interval and fence in a shared file, and the parent checks that
// no two holds overlap and that fences only increase; Failover kills the
// leader and checks that another process leads within the lease and one
// retry interval.
package grellocktest
