package grelratelimit

import "context"

// Backend is where a limiter keeps its per-key state. Each Decide is one
// decision made atomically, in one round trip to the store, with the
// store's own clock (Redis TIME inside the script, now() of the database
// inside the statement, the process's monotonic clock in memory), so that
// limiters on many hosts agree without synchronised clocks.
//
// Adapters live in the provider packages (grelredis, grelpostgres,
// grelsqlite); [Memory] is the in-process one. Every Backend passes the
// conformance suite in the ratelimittest package.
type Backend interface {
	// Decide makes the decision for req on the state of (req.Name,
	// req.Key), following [Policy.Decide], and stores the new state unless
	// req.Peek. It may assume 1 <= req.N <= req.Policy.Limit. A failure to
	// reach the store returns an error; the Limiter applies its degradation
	// policy.
	Decide(ctx context.Context, req Request) (Decision, error)
	// Reset forgets the state of one key: its next decision sees a full
	// limit. Resetting a key that has no state is not an error.
	Reset(ctx context.Context, name, key string) error
	// Kind names the store for logs, spans and metrics: "memory", "redis",
	// "postgres", "sqlite".
	Kind() string
}

// Request is one decision asked of a [Backend].
type Request struct {
	// Name is the limiter's name: keys of different limiters never share
	// state, even on one store.
	Name string
	// Key is the caller's key (a client address, a user, a route).
	Key string
	// N is the number of permits asked for, at least 1.
	N int64
	// Peek asks what the decision would be without consuming or storing
	// anything.
	Peek bool
	// Policy is the algorithm and its numbers, current at the time of the
	// request.
	Policy Policy
}
