package grellock

import (
	"errors"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// The config kinds: GREL_LOCK_*, GREL_TASKLOCK_*, GREL_LEADERELECTION_*.
const (
	KindLock           = "LOCK"
	KindTaskLock       = "TASKLOCK"
	KindLeaderElection = "LEADERELECTION"
)

// minLease is the shortest lease any pattern accepts.
const minLease = 10 * time.Millisecond

// Config tunes a [Lock]. Variables: GREL_LOCK_{NAME}_{FIELD}, then
// GREL_LOCK_{FIELD}.
type Config struct {
	// LeaseDuration is how long the store keeps a hold without renewal
	// (LEASE_DURATION, default 60s).
	LeaseDuration time.Duration
	// RetryInterval is the wait between two attempts of a blocking acquire
	// (RETRY_INTERVAL, default 100ms).
	RetryInterval time.Duration
	// Jitter shortens each wait by a random fraction of up to Jitter, so
	// waiters spread out (JITTER, 0 to <1, default 0.2).
	Jitter float64
	// Worker is this process's identity, shown as the holder (WORKER,
	// default: host name and a random suffix). It cannot change at run
	// time.
	Worker string
	// AutoRenew renews every hold every LeaseDuration/3 until it is
	// released, and signals loss when renewal fails (AUTO_RENEW, default
	// false).
	AutoRenew bool
}

var lockSpec = grelconfig.NewSpec[Config](KindLock)

var (
	lockLease = lockSpec.Duration("LEASE_DURATION", func(c *Config) *time.Duration { return &c.LeaseDuration }, 60*time.Second, grelconfig.AtLeast(minLease)).
			Doc("how long a hold lasts without renewal")
	lockRetry = lockSpec.Duration("RETRY_INTERVAL", func(c *Config) *time.Duration { return &c.RetryInterval }, 100*time.Millisecond, grelconfig.Positive[time.Duration]()).
			Doc("wait between two attempts of a blocking acquire")
	lockJitter = lockSpec.Float("JITTER", func(c *Config) *float64 { return &c.Jitter }, 0.2, jitterRule).
			Doc("random fraction (0 to <1) taken off each retry wait")
	lockWorker = lockSpec.String("WORKER", func(c *Config) *string { return &c.Worker }, "").
			Doc("worker identity shown as the holder (default: host name and a random suffix)")
	lockAutoRenew = lockSpec.Bool("AUTO_RENEW", func(c *Config) *bool { return &c.AutoRenew }, false).
			Doc("renew every hold every lease/3 until released")
)

var jitterRule = grelconfig.NewRule("must be at least 0 and less than 1", func(f float64) bool { return f >= 0 && f < 1 })

// DefaultConfig returns the documented defaults of a [Lock].
func DefaultConfig() Config { return lockSpec.Defaults() }

// Validate checks c against every rule of a Lock's config.
func (c Config) Validate() error { return lockSpec.Validate(c) }

// TaskConfig tunes a [TaskLock]. Variables: GREL_TASKLOCK_{NAME}_{FIELD},
// then GREL_TASKLOCK_{FIELD}.
type TaskConfig struct {
	// LeaseDuration is how long a run holds the lock without renewal
	// (LEASE_DURATION, default 60s).
	LeaseDuration time.Duration
	// MinHold is how long, from the start of a run (not from the end of
	// its body), the lock stays held even when the task finishes sooner:
	// the lock is held until the later of the body's end and start +
	// MinHold, so a replica whose clock or schedule lags cannot run it again
	// (MIN_HOLD, default 1s).
	MinHold time.Duration
	// Refresh renews the lease every LeaseDuration/3 while the task runs
	// (REFRESH, default true). Without it a task longer than the lease is
	// cancelled when the lease ends.
	Refresh bool
	// Worker is this process's identity (WORKER). It cannot change at run
	// time.
	Worker string
}

var taskSpec = grelconfig.NewSpec[TaskConfig](KindTaskLock)

var (
	taskLease = taskSpec.Duration("LEASE_DURATION", func(c *TaskConfig) *time.Duration { return &c.LeaseDuration }, 60*time.Second, grelconfig.AtLeast(minLease)).
			Doc("how long a run holds the lock without renewal")
	taskMinHold = taskSpec.Duration("MIN_HOLD", func(c *TaskConfig) *time.Duration { return &c.MinHold }, time.Second, grelconfig.NonNegative[time.Duration]()).
			Doc("the lock stays held until at least this long after the start of a run (not the end of its body)")
	taskRefresh = taskSpec.Bool("REFRESH", func(c *TaskConfig) *bool { return &c.Refresh }, true).
			Doc("renew the lease every lease/3 while the task runs")
	taskWorker = taskSpec.String("WORKER", func(c *TaskConfig) *string { return &c.Worker }, "").
			Doc("worker identity shown as the holder (default: host name and a random suffix)")
)

// DefaultTaskConfig returns the documented defaults of a [TaskLock].
func DefaultTaskConfig() TaskConfig { return taskSpec.Defaults() }

// Validate checks c against every rule of a TaskLock's config.
func (c TaskConfig) Validate() error { return taskSpec.Validate(c) }

// ElectionConfig tunes a [LeaderElection]. Variables:
// GREL_LEADERELECTION_{NAME}_{FIELD}, then GREL_LEADERELECTION_{FIELD}.
// LeaseDuration > RenewDeadline > 1.2 x RetryInterval, and LeaseDuration -
// RenewDeadline >= [SafetyMargin](LeaseDuration).
type ElectionConfig struct {
	// LeaseDuration is how long followers wait after the last renewal
	// before taking over (LEASE_DURATION, default 15s).
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps leading without a
	// successful renewal before it steps down (RENEW_DEADLINE, default 10s).
	RenewDeadline time.Duration
	// RetryInterval is the wait between two renewals of the leader and two
	// attempts of a follower (RETRY_INTERVAL, default 2s).
	RetryInterval time.Duration
	// Jitter shortens each wait by a random fraction of up to Jitter
	// (JITTER, 0 to <1, default 0.2).
	Jitter float64
	// Worker is this candidate's identity (WORKER). It cannot change at
	// run time.
	Worker string
}

var electionSpec = newElectionSpec()

// newElectionSpec declares the election's kind and its cross-field rules,
// client-go's (LeaseDuration > RenewDeadline > 1.2 x RetryInterval) and a
// gap between the first two of at least SafetyMargin(LeaseDuration): the
// leader steps down RenewDeadline after its last renewal, on its own clock,
// so that gap is what keeps it from leading after the store (on its clock)
// gave the lease to a follower.
func newElectionSpec() *grelconfig.Spec[ElectionConfig] {
	s := grelconfig.NewSpec[ElectionConfig](KindLeaderElection)
	s.Check(func(c *ElectionConfig) error {
		switch {
		case c.LeaseDuration <= c.RenewDeadline:
			return errLeaseRenew
		case c.LeaseDuration-c.RenewDeadline < SafetyMargin(c.LeaseDuration):
			return errLeaseMargin
		}
		return nil
	})
	s.Check(func(c *ElectionConfig) error {
		if float64(c.RenewDeadline) <= jitterFactor*float64(c.RetryInterval) {
			return errRenewRetry
		}
		return nil
	})
	return s
}

// jitterFactor is client-go's factor: the renew deadline must leave room
// for more than one retry.
const jitterFactor = 1.2

var (
	electionLease = electionSpec.Duration("LEASE_DURATION", func(c *ElectionConfig) *time.Duration { return &c.LeaseDuration }, 15*time.Second, grelconfig.AtLeast(minLease)).
			Doc("how long followers wait after the last renewal before taking over")
	electionRenew = electionSpec.Duration("RENEW_DEADLINE", func(c *ElectionConfig) *time.Duration { return &c.RenewDeadline }, 10*time.Second, grelconfig.Positive[time.Duration]()).
			Doc("the leader steps down after this long without a successful renewal")
	electionRetry = electionSpec.Duration("RETRY_INTERVAL", func(c *ElectionConfig) *time.Duration { return &c.RetryInterval }, 2*time.Second, grelconfig.Positive[time.Duration]()).
			Doc("wait between two renewals or two attempts")
	electionJitter = electionSpec.Float("JITTER", func(c *ElectionConfig) *float64 { return &c.Jitter }, 0.2, jitterRule).
			Doc("random fraction (0 to <1) taken off each wait")
	electionWorker = electionSpec.String("WORKER", func(c *ElectionConfig) *string { return &c.Worker }, "").
			Doc("candidate identity shown as the holder (default: host name and a random suffix)")
)

var (
	errLeaseRenew  = errors.New("LeaseDuration must be greater than RenewDeadline")
	errLeaseMargin = errors.New("LeaseDuration must exceed RenewDeadline by at least SafetyMargin(LeaseDuration) (1% of LeaseDuration + 2ms)")
	errRenewRetry  = errors.New("RenewDeadline must be greater than RetryInterval x 1.2")
)

// DefaultElectionConfig returns the documented defaults of a
// [LeaderElection].
func DefaultElectionConfig() ElectionConfig { return electionSpec.Defaults() }

// Validate checks c against every rule of an election's config.
func (c ElectionConfig) Validate() error { return electionSpec.Validate(c) }
