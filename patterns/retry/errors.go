package grelretry

import (
	"errors"
	"strconv"
	"time"
)

// ErrExhausted matches every [*RetryError] with errors.Is: the retrier gave
// up while the outcome was still retryable.
var ErrExhausted = errors.New("grelretry: retries exhausted")

// StopReason says why a retrier gave up.
type StopReason string

// The reasons a retrier gives up on a retryable outcome.
const (
	// StopMaxAttempts: MaxAttempts attempts were made.
	StopMaxAttempts StopReason = "max attempts"
	// StopMaxElapsed: the next attempt would start after MaxElapsed.
	StopMaxElapsed StopReason = "max elapsed"
	// StopDeadline: the next attempt would start after the context's
	// deadline, so the retrier did not wait for it.
	StopDeadline StopReason = "deadline"
	// StopContext: the context was done before the next attempt.
	StopContext StopReason = "context done"
)

// RetryError is returned when a retrier gives up on an outcome that was
// still retryable. It unwraps to the last attempt's error (nil when the last
// attempt returned a retryable result and no error) and, for StopContext, to
// the context's error as well.
type RetryError struct {
	// Name is the retrier's name.
	Name string
	// Attempts is the number of attempts made.
	Attempts int
	// Elapsed is the time from the start of the first attempt to the
	// moment the retrier gave up (the end of the last attempt, or of the
	// wait the context cut short).
	Elapsed time.Duration
	// Last is the last attempt's error.
	Last error
	// Reason says why the retrier gave up.
	Reason StopReason

	ctxErr error
}

func (e *RetryError) Error() string {
	s := "grelretry: "
	if e.Name != "" {
		s += e.Name + ": "
	}
	s += "gave up after " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		s += "s"
	}
	s += " in " + e.Elapsed.Round(time.Millisecond).String() + " (" + string(e.Reason) + ")"
	if e.Last != nil {
		return s + ": " + e.Last.Error()
	}
	return s + ": result still retryable"
}

// Unwrap returns the last error and, when the context stopped the retrier,
// the context's error.
func (e *RetryError) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Last != nil {
		out = append(out, e.Last)
	}
	if e.ctxErr != nil {
		out = append(out, e.ctxErr)
	}
	return out
}

// Is reports whether target is [ErrExhausted].
func (e *RetryError) Is(target error) bool { return target == ErrExhausted }

// RetryAfter is implemented by errors that carry the delay the callee asked
// for before the next attempt (an HTTP Retry-After, a breaker's open time,
// a rate limiter's reset). The retrier waits at least that long, unless that
// passes MaxElapsed or the deadline, in which case it gives up at once.
type RetryAfter interface {
	error
	RetryAfter() time.Duration
}

// PermanentError marks an error that must not be retried, whatever the
// retrier's matcher says; see [Permanent].
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that no retrier retries it. The retrier returns the
// error it wraps, not the wrapper. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}
