package grelratelimit

import "time"

// Mode says how a decision was made.
type Mode uint8

// The modes of a decision. Every mode but ModeNormal is a degradation: the
// store failed or was too slow, and the limiter applied its [Degradation]
// policy.
const (
	// ModeNormal: the backend decided.
	ModeNormal Mode = iota
	// ModeFailOpen: the store failed; the request was allowed unchecked.
	ModeFailOpen
	// ModeFailClosed: the store failed; the request was refused.
	ModeFailClosed
	// ModeLocal: the store failed; a per-process memory limiter with the
	// same policy decided.
	ModeLocal
	modeCount
)

var modeNames = [modeCount]string{"normal", "fail_open", "fail_closed", "local"}

func (m Mode) String() string {
	if m < modeCount {
		return modeNames[m]
	}
	return "unknown"
}

// Result is the outcome of one decision.
type Result struct {
	// Allowed reports whether the permits were granted (for Peek: whether
	// one AllowN(n) now would be).
	Allowed bool
	// Limit is the most permits the key can hold: the token bucket's Burst
	// or the sliding window's Limit.
	Limit int
	// Remaining is the largest n that an AllowN(n) at the same instant
	// would be granted, after this decision consumed its permits.
	Remaining int
	// RetryAfter is 0 when Allowed. Otherwise it is the shortest wait after
	// which the same n permits would be granted if nothing else consumed
	// any: for n permits, not for one (and never negative, unlike
	// redis_rate's -1).
	RetryAfter time.Duration
	// ResetAfter is the time until the key is back to its full Limit if
	// nothing consumes any (token bucket full, sliding window empty); 0
	// when it already is.
	ResetAfter time.Duration
	// Mode says whether the backend decided or the degradation policy did.
	Mode Mode
}

// Degraded reports whether the store failed and the degradation policy
// decided.
func (r Result) Degraded() bool { return r.Mode != ModeNormal }
