package grelbreaker

import (
	"fmt"
	"time"
)

// State is a breaker's state.
type State uint8

// The states of a breaker.
const (
	// StateClosed admits every call and counts outcomes.
	StateClosed State = iota
	// StateOpen refuses every call until its open duration has passed.
	StateOpen
	// StateHalfOpen admits a few trial calls; their outcomes close or open
	// the breaker.
	StateHalfOpen
	// StateForcedOpen refuses every call until [Breaker.Close] (manual).
	StateForcedOpen
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	case StateForcedOpen:
		return "forced-open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Counts are the outcomes a breaker counted since its last transition.
type Counts struct {
	// Successes and Failures are the calls counted since the last
	// transition (ignored calls are in neither).
	Successes int64
	Failures  int64
	// Slow is the number of those calls that were slow.
	Slow int64
	// ConsecutiveFailures is the current run of failures (closed state).
	ConsecutiveFailures int64
	// HalfOpenSuccesses is the number of successful trial calls in the
	// current half-open state.
	HalfOpenSuccesses int64
	// WindowCalls, WindowFailures and WindowSlow are what the window
	// algorithms decide on: the calls, failures and slow calls in the window.
	WindowCalls    int64
	WindowFailures int64
	WindowSlow     int64
}

// Calls returns Successes + Failures.
func (c Counts) Calls() int64 { return c.Successes + c.Failures }

// Outcome is what a call counts as.
type Outcome uint8

// The outcomes of a call.
const (
	// OutcomeSuccess counts toward staying or becoming closed.
	OutcomeSuccess Outcome = iota + 1
	// OutcomeFailure counts toward tripping.
	OutcomeFailure
	// OutcomeIgnored counts as neither (by default, the caller's own
	// cancellation); in half-open it frees the trial slot.
	OutcomeIgnored
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailure:
		return "failure"
	case OutcomeIgnored:
		return "ignored"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Transition is a change of state, with the counts from before it.
type Transition struct {
	From, To State
	Counts   Counts
}

// Snapshot is a breaker's state as a Backend reports it.
type Snapshot struct {
	// State is the state after the operation.
	State State
	// Generation increases with every transition of the key; outcomes are
	// recorded against the generation that admitted their call.
	Generation uint64
	// OpenRemaining is, in StateOpen, the time until the breaker admits
	// trial calls (0 when it is due).
	OpenRemaining time.Duration
	// Counts are the counts of the current generation.
	Counts Counts
	// Last is the transition that started the current generation (zero
	// for generation 0).
	Last Transition
	// Changed is true when this operation made the transition Last.
	Changed bool
}

// Admission is the answer of [Backend.Allow].
type Admission struct {
	Snapshot
	// Admitted is true when the call may run.
	Admitted bool
}

// Record is one outcome reported to [Backend.Record].
type Record struct {
	// Generation is the generation of the Admission that let the call run.
	Generation uint64
	// Outcome is what the call counts as.
	Outcome Outcome
	// Slow is true when the call took at least SlowCallDuration.
	Slow bool
}
