package grellock

import (
	"context"
	"time"
)

// Backend is the store behind [Lock], [TaskLock] and [LeaderElection]. It
// keeps one record per name. Every method is atomic on the store: its
// decision and its write cannot interleave with another client's. On Redis,
// PostgreSQL and SQLite every method is one round trip (one script, one
// statement, one transaction) and expiry is decided on the store's clock.
// A Kubernetes Lease has no conditional write that also reads, so there a
// change is a read-modify-write checked by resourceVersion: Acquire is a
// GET and then an UPDATE (or a CREATE); Extend, Release and an Acquire
// that renews the backend's own valid hold are one UPDATE from the Lease
// it cached, with a GET and one more UPDATE after a conflict or without a
// cached Lease; Get is one GET. Lease times are the writer's clock, and each
// reader compares them with its own, as Kubernetes does.
//
// The fencing token (Record.Fence) is minted by the store: it starts at 1 and
// grows by one on every new acquisition of a name (first acquisition,
// acquisition after a release, takeover after expiry), and never decreases.
// Releasing a name clears its holder but keeps its fence and transitions, so
// the counter survives.
//
// Implementations must be safe for concurrent use. The conformance suite in
// package grellocktest checks every rule stated here.
type Backend interface {
	// Acquire takes name for req.Token for req.Lease.
	//
	// If the name is free or its lease has expired, it is a new acquisition:
	// the fence grows by one and AcquiredAt is now. If req.Token already
	// holds a valid lease, the lease is extended from now and the fence is
	// unchanged. If another token holds a valid lease, Acquire returns that
	// holder's record and an error that matches [ErrNotAcquired].
	Acquire(ctx context.Context, req Request) (Record, error)
	// Extend renews the lease of req.Token on req.Name for req.Lease from
	// now (it may also shorten it). It never acquires: if the token does not
	// hold a valid lease it returns an error that matches [ErrNotHeld].
	Extend(ctx context.Context, req Request) (Record, error)
	// Release frees name if token holds it, keeping the fence counter. It
	// returns an error that matches [ErrNotHeld] when token does not hold a
	// valid lease on name.
	Release(ctx context.Context, name, token string) error
	// Get returns the record of name. A free or expired name has an empty
	// Holder and Token; its Fence and Transitions are still reported. A name
	// never acquired returns a zero Record with Name set and no error.
	Get(ctx context.Context, name string) (Record, error)
}

// Request is one acquisition or extension.
type Request struct {
	// Name is the lock or election name; one key space for the three
	// patterns.
	Name string
	// Token identifies this hold; it is unique per acquisition.
	Token string
	// Holder is the worker identity shown to others (holderIdentity).
	Holder string
	// Lease is how long the store keeps the hold without renewal.
	Lease time.Duration
	// Metadata is stored with a new acquisition (leader metadata). Nil
	// keeps what is stored on an extension.
	Metadata map[string]string
}

// Record is what the store keeps for one name. Times are the store's clock.
type Record struct {
	Name string
	// Holder is the identity of the current holder; empty when free.
	Holder string
	// Token is the current hold's token; empty when free.
	Token string
	// Fence is the fencing token of the current (or last) acquisition.
	Fence uint64
	// Lease is the lease duration of the current hold.
	Lease time.Duration
	// AcquiredAt is when the current holder acquired it.
	AcquiredAt time.Time
	// RenewedAt is when the lease was last acquired or extended.
	RenewedAt time.Time
	// ExpiresAt is when the lease ends unless renewed.
	ExpiresAt time.Time
	// Transitions counts the acquisitions whose holder identity differed
	// from the previous holder's (a release clears the holder), as
	// Kubernetes counts leaseTransitions.
	Transitions int64
	// Metadata is what the holder stored at acquisition. It must not be
	// modified.
	Metadata map[string]string
}

// Held reports whether the record has a holder.
func (r Record) Held() bool { return r.Token != "" }

// BackendKind is implemented by backends that name their store ("memory",
// "redis", "postgres", "sqlite", "kube") for logs and spans.
type BackendKind interface {
	Kind() string
}

func kindOf(b Backend) string {
	if k, ok := b.(BackendKind); ok {
		return k.Kind()
	}
	return "custom"
}
