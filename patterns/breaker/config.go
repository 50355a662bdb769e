package grelbreaker

import (
	"errors"
	"math"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Kind is the config kind of breakers: their variables are
// GREL_BREAKER_{NAME}_{FIELD} and GREL_BREAKER_{FIELD}.
const Kind = "BREAKER"

// Algorithm is the rule that trips a closed breaker. It is chosen in code
// ([WithAlgorithm]), never by the environment.
type Algorithm string

// The trip rules.
const (
	// ConsecutiveFailures trips after FailureThreshold failures in a row.
	ConsecutiveFailures Algorithm = "consecutive"
	// CountWindow trips when, over the last WindowSize calls (and at least
	// MinCalls), the failure rate reaches FailureRate, or the slow-call rate
	// reaches SlowCallRate.
	CountWindow Algorithm = "count_window"
	// TimeWindow is CountWindow over the calls of the last Window, counted
	// in Buckets slices of Window/Buckets.
	TimeWindow Algorithm = "time_window"
)

// Limits of the fields packed in the breaker's state word.
const (
	maxHalfOpenCalls = 1<<16 - 1
	maxWindowSize    = 1 << 16
	maxBuckets       = 1000
)

// Config holds a breaker's tunable values. Start from [DefaultConfig].
type Config struct {
	// Algorithm is the trip rule, set in code only. Default ConsecutiveFailures.
	Algorithm Algorithm
	// FailureThreshold is the number of failures in a row that trips
	// (ConsecutiveFailures). Default 5.
	FailureThreshold int
	// FailureRate is the percentage of failed calls that trips (the window
	// algorithms), in (0, 100]. Default 50.
	FailureRate float64
	// MinCalls is the number of calls the window must hold before a rate
	// can trip (the window algorithms). Default 10.
	MinCalls int
	// WindowSize is the number of most recent calls counted (CountWindow).
	// Default 100.
	WindowSize int
	// Window is the time over which calls are counted (TimeWindow).
	// Default 60s.
	Window time.Duration
	// Buckets is the number of slices Window is counted in (TimeWindow);
	// calls leave the window one slice at a time. Default 10.
	Buckets int
	// SlowCallDuration makes a call that takes at least this long a slow
	// call (the window algorithms); 0 turns slow-call detection off.
	// Default 0.
	SlowCallDuration time.Duration
	// SlowCallRate is the percentage of slow calls that trips, in (0, 100].
	// Default 100.
	SlowCallRate float64
	// OpenDuration is how long the breaker stays open before it admits
	// trial calls (half-open). Default 30s.
	OpenDuration time.Duration
	// OpenDurationFactor grows the open duration on each trip that follows
	// a failed trial, up to MaxOpenDuration; 1 keeps it constant. Default 1.
	OpenDurationFactor float64
	// MaxOpenDuration caps the growing open duration; required when
	// OpenDurationFactor is greater than 1. Default 0.
	MaxOpenDuration time.Duration
	// HalfOpenMaxCalls is the number of trial calls admitted at the same
	// time in half-open. Default 1.
	HalfOpenMaxCalls int
	// SuccessThreshold is the number of successful trial calls that close
	// the breaker; one failed trial opens it again. Default 1.
	SuccessThreshold int
	// Staleness bounds how old the local copy of a shared breaker's state
	// may be before a call reads it from the store again; 0 reads it on
	// every call. Unused with the memory backend. Default 1s.
	Staleness time.Duration
	// StoreTimeout bounds each operation on a shared store; past it the
	// breaker falls back to local state. Unused with the memory backend.
	// Default 250ms.
	StoreTimeout time.Duration
	// MaxKeys bounds the number of breakers a [Group] keeps; the least
	// recently used one is dropped beyond it. Default 1000.
	MaxKeys int
}

var windows = []string{string(CountWindow), string(TimeWindow)}

var (
	errMinCalls    = errors.New("MinCalls must be at most WindowSize")
	errBuckets     = errors.New("each of the Buckets slices of Window must be at least 1ms")
	errOpenGrowing = errors.New("MaxOpenDuration must be at least OpenDuration when OpenDurationFactor is greater than 1")
)

var spec = grelconfig.NewSpec[Config](Kind).
	Algorithm(func(c *Config) string { return string(c.Algorithm) }).
	Check(func(c *Config) error {
		if c.Algorithm == CountWindow && c.MinCalls > c.WindowSize {
			return errMinCalls
		}
		return nil
	}).
	Check(func(c *Config) error {
		if c.Algorithm == TimeWindow && c.Buckets > 0 && c.Window/time.Duration(c.Buckets) < time.Millisecond {
			return errBuckets
		}
		return nil
	}).
	Check(func(c *Config) error {
		if c.OpenDurationFactor > 1 && c.MaxOpenDuration < c.OpenDuration {
			return errOpenGrowing
		}
		return nil
	})

var (
	algorithmField = grelconfig.Enum(spec, "ALGORITHM", func(c *Config) *Algorithm { return &c.Algorithm },
		ConsecutiveFailures, ConsecutiveFailures, CountWindow, TimeWindow).CodeOnly().
		Doc("trip rule, chosen in code (WithAlgorithm)")
	failureThresholdField = spec.Int("FAILURE_THRESHOLD", func(c *Config) *int { return &c.FailureThreshold }, 5,
		grelconfig.Positive[int]()).For(string(ConsecutiveFailures)).Doc("failures in a row that trip")
	failureRateField = spec.Float("FAILURE_RATE", func(c *Config) *float64 { return &c.FailureRate }, 50,
		grelconfig.NewRule("must be greater than 0 and at most 100", func(v float64) bool { return v > 0 && v <= 100 })).
		For(windows...).Doc("percentage of failed calls in the window that trips")
	minCallsField = spec.Int("MIN_CALLS", func(c *Config) *int { return &c.MinCalls }, 10,
		grelconfig.Positive[int]()).For(windows...).Doc("calls the window must hold before a rate trips")
	windowSizeField = spec.Int("WINDOW_SIZE", func(c *Config) *int { return &c.WindowSize }, 100,
		grelconfig.Between(1, maxWindowSize)).For(string(CountWindow)).Doc("most recent calls counted")
	windowField = spec.Duration("WINDOW", func(c *Config) *time.Duration { return &c.Window }, time.Minute,
		grelconfig.Positive[time.Duration]()).For(string(TimeWindow)).Doc("time over which calls are counted")
	bucketsField = spec.Int("BUCKETS", func(c *Config) *int { return &c.Buckets }, 10,
		grelconfig.Between(1, maxBuckets)).For(string(TimeWindow)).Doc("slices of the window")
	slowCallDurationField = spec.Duration("SLOW_CALL_DURATION", func(c *Config) *time.Duration { return &c.SlowCallDuration }, 0,
		grelconfig.NonNegative[time.Duration]()).For(windows...).Doc("a call this long is slow; 0 turns slow calls off")
	slowCallRateField = spec.Float("SLOW_CALL_RATE", func(c *Config) *float64 { return &c.SlowCallRate }, 100,
		grelconfig.NewRule("must be greater than 0 and at most 100", func(v float64) bool { return v > 0 && v <= 100 })).
		For(windows...).Doc("percentage of slow calls in the window that trips")
	openDurationField = spec.Duration("OPEN_DURATION", func(c *Config) *time.Duration { return &c.OpenDuration }, 30*time.Second,
		grelconfig.Positive[time.Duration]()).Doc("time open before trial calls")
	openDurationFactorField = spec.Float("OPEN_DURATION_FACTOR", func(c *Config) *float64 { return &c.OpenDurationFactor }, 1,
		grelconfig.AtLeast(1.0)).Doc("growth of the open duration on each repeated trip")
	maxOpenDurationField = spec.Duration("MAX_OPEN_DURATION", func(c *Config) *time.Duration { return &c.MaxOpenDuration }, 0,
		grelconfig.NonNegative[time.Duration]()).Doc("cap of the growing open duration")
	halfOpenMaxCallsField = spec.Int("HALF_OPEN_MAX_CALLS", func(c *Config) *int { return &c.HalfOpenMaxCalls }, 1,
		grelconfig.Between(1, maxHalfOpenCalls)).Doc("trial calls admitted at the same time in half-open")
	successThresholdField = spec.Int("SUCCESS_THRESHOLD", func(c *Config) *int { return &c.SuccessThreshold }, 1,
		grelconfig.Between(1, maxHalfOpenCalls)).Doc("successful trial calls that close")
	stalenessField = spec.Duration("STALENESS", func(c *Config) *time.Duration { return &c.Staleness }, time.Second,
		grelconfig.NonNegative[time.Duration]()).Doc("age of the local copy of a shared state before it is read again")
	storeTimeoutField = spec.Duration("STORE_TIMEOUT", func(c *Config) *time.Duration { return &c.StoreTimeout }, 250*time.Millisecond,
		grelconfig.Positive[time.Duration]()).Doc("bound of each operation on a shared store")
	maxKeysField = spec.Int("MAX_KEYS", func(c *Config) *int { return &c.MaxKeys }, 1000,
		grelconfig.Positive[int]()).Doc("breakers a Group keeps")
)

// DefaultConfig returns the documented defaults (ConsecutiveFailures).
func DefaultConfig() Config { return spec.Defaults() }

// Validate checks c as NewFromConfig and Reconfigure do.
func (c Config) Validate() error { return spec.Validate(normalize(c)) }

func normalize(c Config) Config {
	if c.Algorithm == "" {
		c.Algorithm = ConsecutiveFailures
	}
	return c
}

// Spec returns the declaration of the breaker config (for describe output
// and tests).
func Spec() *grelconfig.Spec[Config] { return spec }

// openFor returns the open duration after the n-th trip in a row (n >= 1).
func (c *Config) openFor(n int) time.Duration {
	d := c.OpenDuration
	if c.OpenDurationFactor <= 1 || n <= 1 {
		return d
	}
	f := float64(d) * math.Pow(c.OpenDurationFactor, float64(n-1))
	if math.IsInf(f, 0) || math.IsNaN(f) || f >= float64(c.MaxOpenDuration) {
		return c.MaxOpenDuration
	}
	return time.Duration(f)
}

// slowOn reports whether slow calls count for c.
func (c *Config) slowOn() bool {
	return c.SlowCallDuration > 0 && (c.Algorithm == CountWindow || c.Algorithm == TimeWindow)
}

// rateTrips reports whether a window with calls, failures and slow calls trips.
func (c *Config) rateTrips(calls, failures, slow int64) bool {
	if calls < int64(c.MinCalls) || calls == 0 {
		return false
	}
	if float64(failures)*100 >= c.FailureRate*float64(calls) {
		return true
	}
	return c.slowOn() && float64(slow)*100 >= c.SlowCallRate*float64(calls)
}
