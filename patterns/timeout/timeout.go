package greltimeout

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the OpenTelemetry instrumentation scope of the metrics of
// this package.
const ScopeName = "github.com/grelmicro/grelmicro-go/patterns/timeout"

// MetricTimeouts counts the calls whose [*TimeoutError] Execute returned
// (this timeout's own deadline fired), with the attribute grel.name.
const MetricTimeouts = "grel.timeout.timeouts"

// Kind is the config kind of timeouts: GREL_TIMEOUT_{NAME}_DURATION and
// GREL_TIMEOUT_DURATION.
const Kind = "TIMEOUT"

// Config holds a timeout's tunable values.
type Config struct {
	// Duration bounds each call. Default 10s.
	Duration time.Duration
}

var spec = grelconfig.NewSpec[Config](Kind)

var durationField = spec.Duration("DURATION", func(c *Config) *time.Duration { return &c.Duration }, 10*time.Second, grelconfig.Positive[time.Duration]()).
	Doc("bound of each call")

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return spec.Defaults() }

// Spec returns the declaration of the timeout config.
func Spec() *grelconfig.Spec[Config] { return spec }

// ErrTimeout matches every [*TimeoutError] with errors.Is.
var ErrTimeout = errors.New("greltimeout: timed out")

// TimeoutError is returned when the timeout's own deadline fired before the
// call returned, and the call returned an error. It unwraps to that error
// (usually context.DeadlineExceeded), so errors.Is(err,
// context.DeadlineExceeded) holds too.
type TimeoutError struct {
	// Name is the timeout's name.
	Name string
	// Timeout is the duration that fired.
	Timeout time.Duration
	// Err is what the call returned.
	Err error
}

func (e *TimeoutError) Error() string {
	s := "greltimeout: "
	if e.Name != "" {
		s += e.Name + ": "
	}
	return s + "timed out after " + e.Timeout.String() + ": " + e.Err.Error()
}

// Unwrap returns the call's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrTimeout].
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Timeout runs calls under a deadline of its own, through their context.
// It is safe for concurrent use.
type Timeout struct {
	name    string
	cfg     atomic.Pointer[Config]
	cause   *deadlineCause // the cause of this timeout's own deadline
	binding grelconfig.Reloadable
	// timeouts is nil when the meter provider is the no-op one.
	timeouts metric.Int64Counter
	attrs    []metric.AddOption
}

type deadlineCause struct{ t *Timeout }

func (c *deadlineCause) Error() string { return "greltimeout: deadline of " + c.t.name }

var _ grelconfig.Reloadable = (*Timeout)(nil)

// Option configures a [Timeout].
type Option func(*options)

type options struct {
	settings []grelconfig.Setting[Config] // resolved by New, applied on top of NewFromConfig's Config
	registry *grelconfig.Registry
	meter    metric.MeterProvider
}

// WithDuration sets the bound of each call.
func WithDuration(d time.Duration) Option {
	s := durationField.Set(d)
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithMeterProvider emits the counter grel.timeout.timeouts ({call},
// grel.name). The default, and the no-op provider, emit nothing and cost a
// call nothing.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meter = mp } }

// WithRegistry sets where the config is read from and recorded.
func WithRegistry(r *grelconfig.Registry) Option { return func(o *options) { o.registry = r } }

func collect(opts []Option) *options { return instance.Collect(&options{}, opts) }

func newError(name string, err error) error {
	return instance.Error("greltimeout", "timeout", name, err)
}

// New returns a timeout named name, its config resolved from options, then
// GREL_TIMEOUT_{NAME}_DURATION, then GREL_TIMEOUT_DURATION, then the default.
func New(name string, opts ...Option) (*Timeout, error) {
	o := collect(opts)
	cfg, err := spec.Resolve(o.registry, name, o.settings...)
	if err != nil {
		return nil, newError(name, err)
	}
	t, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	t.binding = spec.Bind(name, o.settings, t.Reconfigure)
	return t, nil
}

// NewFromConfig returns a timeout with cfg as given; it reads no
// environment.
func NewFromConfig(name string, cfg Config, opts ...Option) (*Timeout, error) {
	o := collect(opts)
	cfg, err := instance.FromConfig(spec, name, cfg, o.settings, nil)
	if err != nil {
		return nil, newError(name, err)
	}
	t, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	return t, nil
}

func build(name string, cfg Config, o *options) (*Timeout, error) {
	t := &Timeout{name: name}
	t.cause = &deadlineCause{t: t}
	t.cfg.Store(&cfg)
	if m := metrics.Meter(o.meter, ScopeName); m != nil {
		c, err := m.Int64Counter(MetricTimeouts, metric.WithUnit("{call}"),
			metric.WithDescription("Calls cut by the timeout's own deadline"))
		if err != nil {
			return nil, err
		}
		t.timeouts, t.attrs = c, metrics.Attrs([]attribute.KeyValue{attribute.String("grel.name", name)}).Add
	}
	return t, nil
}

// fired counts a timeout.
func (t *Timeout) fired(ctx context.Context) {
	if t.timeouts != nil {
		t.timeouts.Add(ctx, 1, t.attrs...)
	}
}

// Name returns the timeout's name.
func (t *Timeout) Name() string { return t.name }

// Config returns the running config.
func (t *Timeout) Config() Config { return *t.cfg.Load() }

// Reconfigure validates cfg and applies it from the next call on.
func (t *Timeout) Reconfigure(cfg Config) error {
	if err := spec.Validate(cfg); err != nil {
		return newError(t.name, err)
	}
	t.cfg.Store(&cfg)
	return nil
}

// ConfigKey identifies the timeout in a [grelconfig.Registry].
func (t *Timeout) ConfigKey() grelconfig.Key { return grelconfig.Key{Kind: Kind, Instance: t.name} }

// Reload resolves the config again from reg's source and applies it.
func (t *Timeout) Reload(reg *grelconfig.Registry) error {
	if t.binding == nil {
		return nil
	}
	return t.binding.Reload(reg)
}

// Execute runs fn with a context that ends after Duration (or earlier, with
// ctx). When this deadline fired and fn returned an error, Execute returns
// a [*TimeoutError] wrapping it; every other outcome, a deadline of ctx
// included, is returned as is. fn runs in the caller's goroutine and must
// honour its context: Execute does not abandon it.
func (t *Timeout) Execute(ctx context.Context, fn func(ctx context.Context) error) error {
	d := t.cfg.Load().Duration
	cctx, cancel := context.WithTimeoutCause(ctx, d, t.cause)
	err := fn(cctx)
	fired := err != nil && errors.Is(context.Cause(cctx), t.cause)
	cancel()
	if fired {
		t.fired(ctx)
		return &TimeoutError{Name: t.name, Timeout: d, Err: err}
	}
	return err
}

// ExecuteValue is [Timeout.Execute] for a function that returns a value.
func ExecuteValue[T any](ctx context.Context, t *Timeout, fn func(ctx context.Context) (T, error)) (T, error) {
	d := t.cfg.Load().Duration
	cctx, cancel := context.WithTimeoutCause(ctx, d, t.cause)
	v, err := fn(cctx)
	fired := err != nil && errors.Is(context.Cause(cctx), t.cause)
	cancel()
	if fired {
		t.fired(ctx)
		return v, &TimeoutError{Name: t.name, Timeout: d, Err: err}
	}
	return v, err
}
