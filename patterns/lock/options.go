package grellock

import (
	"maps"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Option configures a [Lock], a [TaskLock] or a [LeaderElection]. An option
// that does not apply to the pattern it is given to (WithMinHold for a Lock)
// fails the constructor.
type Option func(*options)

type kind uint8

const (
	kindLock kind = 1 << iota
	kindTask
	kindElection
	kindAll = kindLock | kindTask | kindElection
)

func (k kind) String() string {
	switch k {
	case kindLock:
		return "Lock"
	case kindTask:
		return "TaskLock"
	default:
		return "LeaderElection"
	}
}

type options struct {
	kind     kind
	misuse   string // the first option that does not apply to kind
	lock     settings[Config]
	task     settings[TaskConfig]
	election settings[ElectionConfig]

	logger      *zap.Logger
	tracer      trace.TracerProvider
	registry    *grelconfig.Registry
	backendName string
	callbacks   Callbacks
	metadata    map[string]string
}

// settings are the config-field options for one kind: as grelconfig
// settings for resolution, and as plain setters applied on top of a Config
// given as-is (NewFromConfig).
type settings[C any] struct {
	list []grelconfig.Setting[C]
	set  []func(*C)
}

func (s *settings[C]) add(st grelconfig.Setting[C], set func(*C)) {
	s.list = append(s.list, st)
	s.set = append(s.set, set)
}

func (s *settings[C]) applyTo(c *C) {
	for _, f := range s.set {
		f(c)
	}
}

func (o *options) only(name string, k kind) bool {
	if o.kind&k == 0 {
		if o.misuse == "" {
			o.misuse = name
		}
		return false
	}
	return true
}

func collect(k kind, opts []Option) (*options, error) {
	o := &options{kind: k}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.misuse != "" {
		return nil, &optionError{option: o.misuse, kind: k}
	}
	return o, nil
}

type optionError struct {
	option string
	kind   kind
}

func (e *optionError) Error() string {
	return "grellock: " + e.option + " does not apply to a " + e.kind.String()
}

// WithLeaseDuration sets LeaseDuration (all three patterns).
func WithLeaseDuration(d time.Duration) Option {
	return func(o *options) {
		switch o.kind {
		case kindLock:
			o.lock.add(lockLease.Set(d), func(c *Config) { c.LeaseDuration = d })
		case kindTask:
			o.task.add(taskLease.Set(d), func(c *TaskConfig) { c.LeaseDuration = d })
		case kindElection:
			o.election.add(electionLease.Set(d), func(c *ElectionConfig) { c.LeaseDuration = d })
		}
	}
}

// WithRetryInterval sets RetryInterval (Lock, LeaderElection).
func WithRetryInterval(d time.Duration) Option {
	return func(o *options) {
		if !o.only("WithRetryInterval", kindLock|kindElection) {
			return
		}
		if o.kind == kindLock {
			o.lock.add(lockRetry.Set(d), func(c *Config) { c.RetryInterval = d })
		} else {
			o.election.add(electionRetry.Set(d), func(c *ElectionConfig) { c.RetryInterval = d })
		}
	}
}

// WithJitter sets Jitter (Lock, LeaderElection).
func WithJitter(f float64) Option {
	return func(o *options) {
		if !o.only("WithJitter", kindLock|kindElection) {
			return
		}
		if o.kind == kindLock {
			o.lock.add(lockJitter.Set(f), func(c *Config) { c.Jitter = f })
		} else {
			o.election.add(electionJitter.Set(f), func(c *ElectionConfig) { c.Jitter = f })
		}
	}
}

// WithWorker sets the worker identity (all three patterns).
func WithWorker(id string) Option {
	return func(o *options) {
		switch o.kind {
		case kindLock:
			o.lock.add(lockWorker.Set(id), func(c *Config) { c.Worker = id })
		case kindTask:
			o.task.add(taskWorker.Set(id), func(c *TaskConfig) { c.Worker = id })
		case kindElection:
			o.election.add(electionWorker.Set(id), func(c *ElectionConfig) { c.Worker = id })
		}
	}
}

// WithAutoRenew sets AutoRenew (Lock).
func WithAutoRenew(on bool) Option {
	return func(o *options) {
		if o.only("WithAutoRenew", kindLock) {
			o.lock.add(lockAutoRenew.Set(on), func(c *Config) { c.AutoRenew = on })
		}
	}
}

// WithMinHold sets MinHold (TaskLock).
func WithMinHold(d time.Duration) Option {
	return func(o *options) {
		if o.only("WithMinHold", kindTask) {
			o.task.add(taskMinHold.Set(d), func(c *TaskConfig) { c.MinHold = d })
		}
	}
}

// WithRefresh sets Refresh (TaskLock).
func WithRefresh(on bool) Option {
	return func(o *options) {
		if o.only("WithRefresh", kindTask) {
			o.task.add(taskRefresh.Set(on), func(c *TaskConfig) { c.Refresh = on })
		}
	}
}

// WithRenewDeadline sets RenewDeadline (LeaderElection).
func WithRenewDeadline(d time.Duration) Option {
	return func(o *options) {
		if o.only("WithRenewDeadline", kindElection) {
			o.election.add(electionRenew.Set(d), func(c *ElectionConfig) { c.RenewDeadline = d })
		}
	}
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTracerProvider makes every backend operation a span (default: none).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithRegistry sets where the config is read from and recorded (default: the
// process environment, recorded nowhere).
func WithRegistry(r *grelconfig.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithBackendName picks, in [Module], the Backend contributed under that
// provider instance name (default ""). Plain constructors take their Backend
// as an argument and ignore it.
func WithBackendName(name string) Option {
	return func(o *options) { o.backendName = name }
}

// WithCallbacks sets the election's callbacks (LeaderElection).
func WithCallbacks(cb Callbacks) Option {
	return func(o *options) {
		if o.only("WithCallbacks", kindElection) {
			o.callbacks = cb
		}
	}
}

// WithMetadata stores m with each term of the leader (LeaderElection); it
// is part of the record followers read.
func WithMetadata(m map[string]string) Option {
	return func(o *options) {
		if o.only("WithMetadata", kindElection) {
			o.metadata = maps.Clone(m)
		}
	}
}
