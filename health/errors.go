package grelhealth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors. Every error the package returns matches one of them with
// errors.Is.
var (
	// ErrInvalidCheck: Register refused a Check (bad name, no function,
	// negative timeout or TTL).
	ErrInvalidCheck = errors.New("grelhealth: invalid check")
	// ErrDuplicateCheck: a check of that name is already registered.
	ErrDuplicateCheck = errors.New("grelhealth: duplicate check")
	// ErrUnknownCheck: no check of that name is registered.
	ErrUnknownCheck = errors.New("grelhealth: unknown check")
	// ErrTimeout: a run passed its timeout. [*TimeoutError] matches it.
	ErrTimeout = errors.New("grelhealth: check timed out")
	// ErrPanic: a run panicked. [*PanicError] matches it.
	ErrPanic = errors.New("grelhealth: check panicked")
	// ErrStillRunning: the result is due again but the previous run, which
	// timed out, has not returned yet (its function ignores its context), so
	// no new run was started.
	ErrStillRunning = errors.New("grelhealth: previous run still running (the check ignores its context)")
	// ErrStopped: the checker was stopped; no run is started any more.
	ErrStopped = errors.New("grelhealth: checker stopped")
)

// RegisterError is a Check that Register refused.
type RegisterError struct {
	// Name is the check's name as given.
	Name string
	// Reason says what is wrong.
	Reason string
	// Err is ErrInvalidCheck or ErrDuplicateCheck.
	Err error
}

func (e *RegisterError) Error() string {
	return "grelhealth: check " + strconv.Quote(e.Name) + ": " + e.Reason
}

// Unwrap returns the sentinel.
func (e *RegisterError) Unwrap() error { return e.Err }

// TimeoutError is the result of a run that passed its timeout. It matches
// ErrTimeout and context.DeadlineExceeded.
type TimeoutError struct {
	// Timeout is the check's timeout.
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return "grelhealth: check timed out after " + e.Timeout.String()
}

// Is matches ErrTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// PanicError is the result of a run whose function panicked. It matches
// ErrPanic, and unwraps to the panic value when that is an error.
type PanicError struct {
	// Value is what the function passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("grelhealth: check panicked: %v", e.Value) }

// Is matches ErrPanic.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
