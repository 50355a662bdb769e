package grelbreaker

import (
	"errors"
	"strconv"
	"time"
)

// ErrOpen matches every [*OpenError] with errors.Is: the breaker refused the
// call without running it.
var ErrOpen = errors.New("grelbreaker: open")

// OpenError is returned, without running the call, by a breaker that is
// open, forced open, or half-open with every trial slot taken.
type OpenError struct {
	// Name is the breaker's name; Key its key in a Group ("" otherwise).
	Name, Key string
	// State is the state that refused the call.
	State State
	// Until is when the breaker next admits a call: the end of the open
	// duration. It is zero when unknown (forced open, or half-open with
	// trials in flight).
	Until time.Time
}

func (e *OpenError) Error() string {
	s := "grelbreaker: "
	if e.Name != "" {
		s += e.Name + ": "
	}
	if e.Key != "" {
		s += "key " + strconv.Quote(e.Key) + ": "
	}
	switch e.State {
	case StateHalfOpen:
		return s + "half-open, trial calls in flight"
	case StateForcedOpen:
		return s + "forced open"
	}
	if e.Until.IsZero() {
		return s + "open"
	}
	// Rounded up to the second, like a Retry-After.
	left := time.Until(e.Until)
	if r := left % time.Second; r > 0 {
		left += time.Second - r
	}
	return s + "open, admits calls again in " + max(0, left).String()
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// RetryAfter returns how long until the breaker admits a call (0 when
// unknown), so that grelretry waits at least that long.
func (e *OpenError) RetryAfter() time.Duration {
	if e.Until.IsZero() {
		return 0
	}
	return max(0, time.Until(e.Until))
}

// ErrInvalidState is returned by the manual operations for a state they
// cannot set.
var ErrInvalidState = errors.New("grelbreaker: invalid state")

func validState(s State) error {
	switch s {
	case StateOpen, StateClosed, StateForcedOpen:
		return nil
	}
	return ErrInvalidState
}

// StoreError is returned by operations that need the shared store when it
// failed; the breaker itself falls back to local state.
type StoreError struct {
	// Op is the Backend operation: load, allow, record or set.
	Op  string
	Err error
}

func (e *StoreError) Error() string { return "grelbreaker: store " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }
