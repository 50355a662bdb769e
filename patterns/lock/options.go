package grellock

import (
	"maps"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	"go.opentelemetry.io/otel/metric"
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
	meter       metric.MeterProvider
	registry    *grelconfig.Registry
	backendName string
	callbacks   Callbacks
	metadata    map[string]string
}

// settings are the config-field options for one kind, resolved by New and
// applied on top of a Config given as-is by NewFromConfig.
type settings[C any] struct {
	list []grelconfig.Setting[C]
}

func (s *settings[C]) add(st grelconfig.Setting[C]) { s.list = append(s.list, st) }

func (s *settings[C]) applyTo(c *C) {
	for _, st := range s.list {
		st.Apply(c)
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
	o := instance.Collect(&options{kind: k}, opts)
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
			o.lock.add(lockLease.Set(d))
		case kindTask:
			o.task.add(taskLease.Set(d))
		case kindElection:
			o.election.add(electionLease.Set(d))
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
			o.lock.add(lockRetry.Set(d))
		} else {
			o.election.add(electionRetry.Set(d))
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
			o.lock.add(lockJitter.Set(f))
		} else {
			o.election.add(electionJitter.Set(f))
		}
	}
}

// WithWorker sets the worker identity (all three patterns).
func WithWorker(id string) Option {
	return func(o *options) {
		switch o.kind {
		case kindLock:
			o.lock.add(lockWorker.Set(id))
		case kindTask:
			o.task.add(taskWorker.Set(id))
		case kindElection:
			o.election.add(electionWorker.Set(id))
		}
	}
}

// WithAutoRenew sets AutoRenew (Lock).
func WithAutoRenew(on bool) Option {
	return func(o *options) {
		if o.only("WithAutoRenew", kindLock) {
			o.lock.add(lockAutoRenew.Set(on))
		}
	}
}

// WithMinHold sets MinHold (TaskLock): a run holds the lock until the later
// of the end of its body and MinHold after its start.
func WithMinHold(d time.Duration) Option {
	return func(o *options) {
		if o.only("WithMinHold", kindTask) {
			o.task.add(taskMinHold.Set(d))
		}
	}
}

// WithRefresh sets Refresh (TaskLock).
func WithRefresh(on bool) Option {
	return func(o *options) {
		if o.only("WithRefresh", kindTask) {
			o.task.add(taskRefresh.Set(on))
		}
	}
}

// WithRenewDeadline sets RenewDeadline (LeaderElection).
func WithRenewDeadline(d time.Duration) Option {
	return func(o *options) {
		if o.only("WithRenewDeadline", kindElection) {
			o.election.add(electionRenew.Set(d))
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

// WithMeterProvider emits the pattern's metrics (default: none). A Lock:
// grel.lock.acquisitions and grel.lock.acquire_wait by outcome,
// grel.lock.holds_lost and the gauge grel.lock.held; a TaskLock:
// grel.tasklock.runs by outcome; a LeaderElection: the gauge
// grel.leaderelection.is_leader and grel.leaderelection.transitions by
// state; each: grel.<pattern>.renew_failures by reason. All carry grel.name
// and grel.backend. With the no-op provider nothing is created.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
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
