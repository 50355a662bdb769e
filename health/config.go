package grelhealth

import (
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Config holds the checker's defaults, resolved from GREL_HEALTH_* (kind
// HEALTH, one instance: the checker has no name).
type Config struct {
	// Timeout bounds one run of a check whose Check.Timeout is 0.
	// GREL_HEALTH_TIMEOUT, default 5s, must be greater than 0.
	Timeout time.Duration
	// TTL is how long the result of a check whose Check.TTL is 0 is reused.
	// 0 reuses nothing, but concurrent callers still share one run.
	// GREL_HEALTH_TTL, default 1s, must not be negative.
	TTL time.Duration
	// DrainDelay is how long Drain waits after readiness has turned to 503,
	// so that load balancers and endpoint controllers notice before the
	// servers stop. GREL_HEALTH_DRAIN_DELAY, default 0 (no wait; set 5s to
	// 15s behind a Kubernetes Service), must not be negative. Drain
	// shortens it when the stop context cannot hold it plus [DrainReserve].
	DrainDelay time.Duration
	// Interval is the period of the background runs started by Start; 0
	// runs checks on request only. A background tick runs only the checks
	// whose result has expired, so a check still runs at most once per TTL.
	// GREL_HEALTH_INTERVAL, default 0, must not be negative.
	Interval time.Duration
}

var spec = grelconfig.NewSpec[Config]("HEALTH")

var (
	timeoutField = spec.Duration("TIMEOUT", func(c *Config) *time.Duration { return &c.Timeout },
		5*time.Second, grelconfig.Positive[time.Duration]()).
		Doc("timeout of one check run when the check sets none")
	ttlField = spec.Duration("TTL", func(c *Config) *time.Duration { return &c.TTL },
		time.Second, grelconfig.NonNegative[time.Duration]()).
		Doc("how long a check result is reused when the check sets none; 0 shares concurrent runs only")
	drainDelayField = spec.Duration("DRAIN_DELAY", func(c *Config) *time.Duration { return &c.DrainDelay },
		0, grelconfig.NonNegative[time.Duration]()).
		Doc("wait between /readyz turning 503 and the servers stopping")
	intervalField = spec.Duration("INTERVAL", func(c *Config) *time.Duration { return &c.Interval },
		0, grelconfig.NonNegative[time.Duration]()).
		Doc("period of background check runs; 0 runs checks on request only")
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return spec.Defaults() }

// Validate checks cfg against the rules of every field.
func (c Config) Validate() error { return spec.Validate(c) }
