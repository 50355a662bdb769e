package grelretry

import (
	"errors"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Kind is the config kind of retriers: their variables are
// GREL_RETRY_{NAME}_{FIELD} and GREL_RETRY_{FIELD}.
const Kind = "RETRY"

// Algorithm is how the wait between two attempts grows. It is chosen in code
// ([WithAlgorithm]), never by the environment.
type Algorithm string

// The wait algorithms. n is the number of the attempt that just failed
// (1 for the first).
const (
	// Constant waits Delay after every attempt.
	Constant Algorithm = "constant"
	// Linear waits InitialDelay × n, at most MaxDelay.
	Linear Algorithm = "linear"
	// Exponential waits InitialDelay × Factor^(n-1), at most MaxDelay.
	Exponential Algorithm = "exponential"
	// Fibonacci waits InitialDelay × F(n) (1, 1, 2, 3, 5, ...), at most
	// MaxDelay.
	Fibonacci Algorithm = "fibonacci"
	// Random waits a uniformly random time in [MinDelay, MaxDelay).
	Random Algorithm = "random"
)

// Jitter randomises each computed wait so that many clients that failed
// together do not retry together.
type Jitter string

// The jitter modes.
const (
	// JitterNone waits exactly the computed delay d.
	JitterNone Jitter = "none"
	// JitterFull waits a uniformly random time in [0, d).
	JitterFull Jitter = "full"
	// JitterEqual waits d/2 plus a uniformly random time in [0, d/2).
	JitterEqual Jitter = "equal"
)

// Config holds a retrier's tunable values. The zero value is not valid; start
// from [DefaultConfig].
type Config struct {
	// Algorithm is the wait algorithm, set in code only. Default Exponential.
	Algorithm Algorithm
	// MaxAttempts bounds the number of attempts, the first one included; 0
	// means no bound (then MaxElapsed must be set). Default 3.
	MaxAttempts int
	// MaxElapsed bounds the time from the start of the first attempt to the
	// start of the last attempt; 0 means no bound. Default 0. It does not
	// interrupt an attempt: bound each one with a deadline or a timeout.
	MaxElapsed time.Duration
	// Delay is the wait of the Constant algorithm. Default 100ms.
	Delay time.Duration
	// InitialDelay is the first wait of the Linear, Exponential and Fibonacci
	// algorithms. Default 100ms.
	InitialDelay time.Duration
	// MinDelay is the lower bound of the Random algorithm. Default 100ms.
	MinDelay time.Duration
	// MaxDelay caps the waits of Linear, Exponential and Fibonacci and is
	// the upper bound of Random. Default 10s.
	MaxDelay time.Duration
	// Factor is the growth of the Exponential algorithm. Default 2.
	Factor float64
	// Jitter randomises the waits of every algorithm but Random. Default
	// equal.
	Jitter Jitter
}

var (
	errUnbounded   = errors.New("MaxElapsed must be greater than 0 when MaxAttempts is 0 (no bound on attempts)")
	errMaxInitial  = errors.New("MaxDelay must be at least InitialDelay")
	errMaxMinDelay = errors.New("MaxDelay must be at least MinDelay")
)

var spec = grelconfig.NewSpec[Config](Kind).
	Algorithm(func(c *Config) string { return string(c.Algorithm) }).
	Check(func(c *Config) error {
		if c.MaxAttempts == 0 && c.MaxElapsed == 0 {
			return errUnbounded
		}
		return nil
	}).
	Check(func(c *Config) error {
		switch c.Algorithm {
		case Linear, Exponential, Fibonacci:
			if c.MaxDelay < c.InitialDelay {
				return errMaxInitial
			}
		case Random:
			if c.MaxDelay < c.MinDelay {
				return errMaxMinDelay
			}
		}
		return nil
	})

var (
	algorithmField = grelconfig.Enum(spec, "ALGORITHM", func(c *Config) *Algorithm { return &c.Algorithm },
		Exponential, Constant, Linear, Exponential, Fibonacci, Random).CodeOnly().
		Doc("wait algorithm, chosen in code (WithAlgorithm)")
	maxAttemptsField = spec.Int("MAX_ATTEMPTS", func(c *Config) *int { return &c.MaxAttempts }, 3,
		grelconfig.NonNegative[int]()).Doc("attempts in all, the first included; 0 for no bound")
	maxElapsedField = spec.Duration("MAX_ELAPSED", func(c *Config) *time.Duration { return &c.MaxElapsed }, 0,
		grelconfig.NonNegative[time.Duration]()).Doc("no attempt starts later than this after the start of the first; 0 for no bound")
	delayField = spec.Duration("DELAY", func(c *Config) *time.Duration { return &c.Delay }, 100*time.Millisecond,
		grelconfig.NonNegative[time.Duration]()).For(string(Constant)).Doc("wait between attempts")
	initialDelayField = spec.Duration("INITIAL_DELAY", func(c *Config) *time.Duration { return &c.InitialDelay }, 100*time.Millisecond,
		grelconfig.NonNegative[time.Duration]()).For(string(Linear), string(Exponential), string(Fibonacci)).Doc("first wait")
	minDelayField = spec.Duration("MIN_DELAY", func(c *Config) *time.Duration { return &c.MinDelay }, 100*time.Millisecond,
		grelconfig.NonNegative[time.Duration]()).For(string(Random)).Doc("shortest random wait")
	maxDelayField = spec.Duration("MAX_DELAY", func(c *Config) *time.Duration { return &c.MaxDelay }, 10*time.Second,
		grelconfig.NonNegative[time.Duration]()).For(string(Linear), string(Exponential), string(Fibonacci), string(Random)).
		Doc("longest wait")
	factorField = spec.Float("FACTOR", func(c *Config) *float64 { return &c.Factor }, 2,
		grelconfig.AtLeast(1.0)).For(string(Exponential)).Doc("growth of each wait over the previous one")
	jitterField = grelconfig.Enum(spec, "JITTER", func(c *Config) *Jitter { return &c.Jitter }, JitterEqual,
		JitterNone, JitterFull, JitterEqual).For(string(Constant), string(Linear), string(Exponential), string(Fibonacci)).
		Doc("none, full or equal")
)

// DefaultConfig returns the documented defaults (Exponential).
func DefaultConfig() Config { return spec.Defaults() }

// Validate checks cfg as NewFromConfig and Reconfigure do.
func (c Config) Validate() error { return spec.Validate(normalize(c)) }

func normalize(c Config) Config {
	if c.Algorithm == "" {
		c.Algorithm = Exponential
	}
	return c
}

// Spec returns the declaration of the retry config (for describe output and
// tests).
func Spec() *grelconfig.Spec[Config] { return spec }
