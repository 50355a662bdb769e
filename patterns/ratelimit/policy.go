package grelratelimit

import (
	"math"
	"time"
)

// Algorithm names a rate-limiting algorithm. It is chosen in code
// ([WithAlgorithm]), never by a variable.
type Algorithm string

// The algorithms.
const (
	// TokenBucket earns Rate permits per Period into a bucket that holds at
	// most Burst. It is implemented as the generic cell rate algorithm
	// (GCRA), which is exactly a token bucket kept as one timestamp.
	TokenBucket Algorithm = "token_bucket"
	// SlidingWindow grants at most Limit permits per Window, estimated with
	// the two-window weighted approximation (see the package documentation
	// for its exact precision).
	SlidingWindow Algorithm = "sliding_window"
)

// Policy is what a [Backend] needs to make one decision: the algorithm and
// its numbers, in backend-neutral units. A [Limiter] derives it from its
// [Config] and passes it with every [Request], so a Reconfigure takes effect
// at the next decision and backends keep no configuration.
type Policy struct {
	Algorithm Algorithm
	// Limit is the token bucket's burst, or the sliding window's limit per
	// window: the most permits a key can hold.
	Limit int64
	// Interval is the token bucket's emission interval: the time to earn
	// one permit (Period / Rate).
	Interval time.Duration
	// Window is the sliding window's length.
	Window time.Duration
}

// State is one key's stored state, the same three numbers on every backend.
// The zero State means "no state": a key seen for the first time, or
// forgotten after its [Policy.Expiry].
type State struct {
	// Time is, for the token bucket, the theoretical arrival time (TAT):
	// the instant at which the bucket is full again; for the sliding
	// window, the start of the current window. It is in nanoseconds on the
	// backend's clock and is never 0 once set.
	Time int64
	// Prev and Cur are the sliding window's counts of granted permits in
	// the previous and the current window. The token bucket leaves them 0.
	Prev, Cur int64
}

// Never is the RetryAfter of a request that can never be granted: more
// permits than the policy's Limit.
const Never = time.Duration(math.MaxInt64)

// Decision is what a backend answers for one [Request]. [Limiter] turns it
// into a [Result].
type Decision struct {
	// Allowed reports whether the N permits were granted (for a peek:
	// whether they would be).
	Allowed bool
	// Remaining is the largest n that a following AllowN(n) at the same
	// instant would be granted: floor(available permits), after this
	// decision's consumption.
	Remaining int64
	// RetryAfter is 0 when Allowed; otherwise the shortest wait after which
	// the same N permits would be granted if nothing else consumed any.
	RetryAfter time.Duration
	// ResetAfter is the time until the key is back to a full Limit if
	// nothing consumes any: the token bucket is full, the sliding window
	// holds no counted permit. 0 when it already is.
	ResetAfter time.Duration
}

// Decide makes one decision at instant now (nanoseconds on the backend's
// clock, never 0) for n permits on state s. Unless peek, s is updated with
// what the decision consumed. Decide is the reference semantics: the memory
// backend calls it, and the Redis script and the SQL statements of the
// adapters compute the same thing (the conformance suite checks it).
//
// n must be at least 1. A denied decision consumes nothing: rejected
// requests are not counted. An n greater than Limit is never granted; its
// RetryAfter is [Never].
func (p Policy) Decide(s *State, now, n int64, peek bool) Decision {
	if n > p.Limit {
		d := p.Decide(s, now, p.Limit, true)
		return Decision{Remaining: d.Remaining, RetryAfter: Never, ResetAfter: d.ResetAfter}
	}
	if p.Algorithm == SlidingWindow {
		return p.decideWindow(s, now, n, peek)
	}
	return p.decideBucket(s, now, n, peek)
}

// decideBucket is GCRA: the bucket is full when TAT <= now; taking n
// permits moves TAT by n intervals; the request fits when TAT ends at most
// Limit intervals ahead of now.
func (p Policy) decideBucket(s *State, now, n int64, peek bool) Decision {
	interval := int64(p.Interval)
	capacity := p.Limit * interval // the bucket, in time
	base := s.Time
	if base < now {
		base = now
	}
	next := base + n*interval
	allowAt := next - capacity
	d := Decision{Allowed: allowAt <= now}
	after := base
	if d.Allowed && !peek {
		after = next
		s.Time = next
	}
	if !d.Allowed {
		d.RetryAfter = time.Duration(allowAt - now)
	}
	d.Remaining = max((capacity-(after-now))/interval, 0)
	d.ResetAfter = time.Duration(after - now)
	return d
}

// decideWindow is the two-window weighted approximation: the count over
// the last Window is estimated as prev x (Window - elapsed)/Window + cur,
// where elapsed is the time since the current window started.
func (p Policy) decideWindow(s *State, now, n int64, peek bool) Decision {
	window := int64(p.Window)
	start, prev, cur := s.Time, s.Prev, s.Cur
	if start == 0 {
		start, prev, cur = now, 0, 0
	}
	elapsed := max(now-start, 0) // a clock that went back counts as no time
	if elapsed >= window {
		k := elapsed / window
		if k == 1 {
			prev = cur
		} else {
			prev = 0
		}
		cur = 0
		start += k * window
		elapsed -= k * window
	}
	if prev == 0 && cur == 0 {
		// Nothing counted in the last two windows: the same as no state,
		// so the windows start again at this request.
		start, elapsed = now, 0
	}
	weight := float64(window-elapsed) / float64(window)
	limit := float64(p.Limit)
	est := float64(prev)*weight + float64(cur)
	d := Decision{Allowed: est+float64(n) <= limit}
	if d.Allowed && !peek {
		cur += n
		est += float64(n)
	}
	if !peek {
		*s = State{Time: start, Prev: prev, Cur: cur}
	}
	d.Remaining = min(max(int64(math.Floor(limit-est)), 0), p.Limit)
	if !d.Allowed {
		var wait float64
		if room := float64(p.Limit - cur - n); room >= 0 {
			// Within this window: prev's weight must fall to room/prev.
			wait = float64(window) - room*float64(window)/float64(prev) - float64(elapsed)
		} else {
			// In the next window, where cur becomes prev.
			need := max(float64(window)-float64(p.Limit-n)*float64(window)/float64(cur), 0)
			wait = float64(window-elapsed) + need
		}
		d.RetryAfter = time.Duration(max(int64(math.Ceil(wait)), 1))
	}
	switch {
	case cur > 0:
		d.ResetAfter = time.Duration(window - elapsed + window)
	case prev > 0:
		d.ResetAfter = time.Duration(window - elapsed)
	}
	return d
}

// Expiry returns the instant from which s is equivalent to no state, so a
// backend may forget it (the memory backend evicts it, Redis expires the
// key, SQL stores delete the row). It is 0 for the zero State.
func (p Policy) Expiry(s State) int64 {
	if s.Time == 0 {
		return 0
	}
	if p.Algorithm == SlidingWindow {
		window := int64(p.Window)
		switch {
		case s.Cur > 0:
			return s.Time + 2*window
		case s.Prev > 0:
			return s.Time + window
		}
	}
	return s.Time
}
