package grellock

import (
	"errors"
	"strconv"
)

var (
	// ErrNotAcquired: another holder has a valid lease. Errors returned by
	// TryAcquire and AcquireWithin are a [*NotAcquiredError].
	ErrNotAcquired = errors.New("grellock: not acquired")
	// ErrNotHeld: the token does not hold the name (released, expired or
	// taken over). A stale holder's Release and Extend get it.
	ErrNotHeld = errors.New("grellock: not held")
	// ErrReentrant: the context already holds this lock. Acquiring it again
	// would wait for a lease that only the caller can free.
	ErrReentrant = errors.New("grellock: lock already held by this context")
	// ErrLost: the hold ended without a release: its lease was not renewed
	// in time, or the store said it is no longer the holder. Errors are a
	// [*LostError]; they match [ErrNotHeld] too.
	ErrLost = errors.New("grellock: lost")
	// ErrReleased is the cause of a hold's context after Release.
	ErrReleased = errors.New("grellock: released")
	// ErrClosed: the Lock or TaskLock was closed (the app is stopping).
	ErrClosed = errors.New("grellock: closed")
	// ErrRunning: the election is already campaigning.
	ErrRunning = errors.New("grellock: election already running")
)

// NotAcquiredError is an acquisition that did not happen.
type NotAcquiredError struct {
	// Name is the lock name.
	Name string
	// Holder is the identity holding it when last seen, if known.
	Holder string
	// Err is the last backend error while trying, if any.
	Err error
}

func (e *NotAcquiredError) Error() string {
	s := "grellock: not acquired: " + e.Name
	if e.Holder != "" {
		s += " is held by " + e.Holder
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches [ErrNotAcquired].
func (e *NotAcquiredError) Is(target error) bool { return target == ErrNotAcquired }

// Unwrap returns the last backend error.
func (e *NotAcquiredError) Unwrap() error { return e.Err }

// LostError is a hold that ended without a release.
type LostError struct {
	Name  string
	Fence uint64
	// Cause is why: nil when the lease was not renewed in time, the
	// backend's error otherwise (matching [ErrNotHeld] when the store
	// refused the token).
	Cause error
}

func (e *LostError) Error() string {
	s := "grellock: lost " + e.Name + " (fence " + strconv.FormatUint(e.Fence, 10) + ")"
	if e.Cause == nil {
		return s + ": lease not renewed in time"
	}
	return s + ": " + e.Cause.Error()
}

// Is matches [ErrLost] and [ErrNotHeld].
func (e *LostError) Is(target error) bool { return target == ErrLost || target == ErrNotHeld }

// Unwrap returns the cause.
func (e *LostError) Unwrap() error { return e.Cause }
