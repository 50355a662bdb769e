package grelratelimit

import (
	"context"
	"errors"
)

var (
	// ErrExceedsLimit is returned for a request of more permits than the
	// limiter's Limit (the token bucket's Burst, the sliding window's
	// Limit): it could never be granted.
	ErrExceedsLimit = errors.New("grelratelimit: more permits asked than the limit allows at once")
	// ErrInvalidN is returned for a request of fewer than 1 permit.
	ErrInvalidN = errors.New("grelratelimit: the number of permits must be at least 1")
	// ErrInvalidName is returned for a limiter name with characters other
	// than letters, digits, '_', '-' and '.'.
	ErrInvalidName = errors.New("grelratelimit: invalid limiter name: use letters, digits, '_', '-' and '.'")
	// ErrNoBackend is returned by constructors given a nil Backend.
	ErrNoBackend = errors.New("grelratelimit: no backend")
	// ErrWaitExceedsDeadline is returned by Wait and WaitN, at once and
	// without waiting, when the permits would come after the context's
	// deadline. It matches context.DeadlineExceeded with errors.Is.
	ErrWaitExceedsDeadline error = waitDeadlineError{}
)

type waitDeadlineError struct{}

func (waitDeadlineError) Error() string {
	return "grelratelimit: the wait would exceed the context deadline"
}

func (waitDeadlineError) Is(target error) bool { return target == context.DeadlineExceeded }
