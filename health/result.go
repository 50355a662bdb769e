package grelhealth

import "time"

// Status is the state of one check or of a report.
type Status string

// The statuses. A check is StatusUnknown until its first result, then
// StatusPass or StatusFail. A report is StatusPass, StatusWarn (only
// non-critical checks failed) or StatusFail (a critical check failed, or the
// checker is draining).
const (
	StatusUnknown Status = "unknown"
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
)

// Result is the outcome of one run of a check.
type Result struct {
	// Name is the check's name.
	Name string
	// Status is StatusPass or StatusFail.
	Status Status
	// Critical is false for a Check with NonCritical set.
	Critical bool
	// Liveness is true for a check registered with RegisterLiveness.
	Liveness bool
	// Err is why the check failed (nil when it passed): the function's error,
	// a [*TimeoutError], a [*PanicError], ErrStillRunning or ErrStopped.
	Err error
	// Details are what a DetailFunc returned (nil for Func checks).
	Details map[string]any
	// Timestamp is when the run finished (or timed out).
	Timestamp time.Time
	// Duration is how long the run took.
	Duration time.Duration
}

// StatusChange is passed to the listeners of [WithStatusListener].
type StatusChange struct {
	// Name is the check's name.
	Name string
	// Previous is the status before, StatusUnknown for a first result.
	Previous Status
	// Result is the new result; Result.Status is the new status.
	Result Result
}

// Scope chooses which checks a report covers.
type Scope int

// The scopes of the three endpoints.
const (
	// ScopeLiveness: the critical liveness checks (/livez).
	ScopeLiveness Scope = iota
	// ScopeReadiness: every critical check, liveness checks included
	// (/readyz).
	ScopeReadiness
	// ScopeAll: every check, critical or not (/healthz).
	ScopeAll
)

func (s Scope) String() string {
	switch s {
	case ScopeLiveness:
		return "livez"
	case ScopeReadiness:
		return "readyz"
	case ScopeAll:
		return "healthz"
	}
	return "scope(?)"
}

// Report is the aggregate of one request.
type Report struct {
	// Status is StatusFail when a critical check failed or the checker is
	// draining (readiness only), StatusWarn when only non-critical checks
	// failed, StatusPass otherwise.
	Status Status
	// Draining is true once Drain has been called. A readiness or full
	// report of a draining checker fails.
	Draining bool
	// Checks holds one result per check run, sorted by name. Empty for a
	// readiness report of a draining checker (no check is run).
	Checks []Result
	// Excluded lists the excluded names that are registered checks, sorted.
	Excluded []string
	// UnknownExcluded lists the excluded names that are not registered
	// checks, sorted: they are reported, not ignored.
	UnknownExcluded []string
}

// OK reports whether the report's HTTP status is 200: no critical failure
// and, for readiness and full reports, not draining.
func (r Report) OK() bool { return r.Status != StatusFail }
