package grelfallback

import (
	"context"

	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the OpenTelemetry instrumentation scope of the metrics of
// this package.
const ScopeName = "github.com/grelmicro/grelmicro-go/patterns/fallback"

// MetricFallbacks counts the calls whose outcome a fallback replaced, with
// the attribute grel.name ([WithName]).
const MetricFallbacks = "grel.fallback.fallbacks"

// Fallback replaces the outcome of a call with a value, or with what a
// function returns, when a matcher says so. It is safe for concurrent use.
type Fallback[T any] struct {
	fn    func(ctx context.Context, err error) (T, error)
	when  grelmatch.Matcher
	hooks []func(Event)
	name  string
	// fallbacks is nil when the meter provider is the no-op one.
	fallbacks metric.Int64Counter
	attrs     []metric.AddOption
}

// Event describes one fallback, for [WithOnFallback] hooks.
type Event struct {
	// Name is the fallback's name ([WithName]).
	Name string
	// Err is the error of the call that was replaced (nil when a result
	// predicate matched).
	Err error
}

// Option configures a [Fallback].
type Option func(*options)

type options struct {
	when  grelmatch.Matcher
	set   bool
	hooks []func(Event)
	name  string
	meter metric.MeterProvider
}

// WithFallbackIf sets when the fallback replaces the outcome. The default
// is every error except the caller's own cancellation:
// grelmatch.And(grelmatch.AnyError(), grelmatch.Not(grelmatch.CallerCanceled())).
// Result predicates ([grelmatch.Result]) replace results too.
func WithFallbackIf(m grelmatch.Matcher) Option {
	return func(o *options) { o.when, o.set = m, true }
}

// WithOnFallback adds a hook called, synchronously, each time the fallback
// is used.
func WithOnFallback(fn func(Event)) Option {
	return func(o *options) {
		if fn != nil {
			o.hooks = append(o.hooks, fn)
		}
	}
}

// WithName names the fallback in its events and metrics.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithMeterProvider emits the counter grel.fallback.fallbacks ({call},
// grel.name). The default, and the no-op provider, emit nothing.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meter = mp } }

// DefaultMatcher is when a fallback applies unless [WithFallbackIf] says
// otherwise: any error but the caller's own cancellation.
func DefaultMatcher() grelmatch.Matcher {
	return grelmatch.And(grelmatch.AnyError(), grelmatch.Not(grelmatch.CallerCanceled()))
}

func build[T any](fn func(ctx context.Context, err error) (T, error), opts []Option) *Fallback[T] {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if !o.set {
		o.when = DefaultMatcher()
	}
	f := &Fallback[T]{fn: fn, when: o.when, hooks: o.hooks, name: o.name}
	if m := metrics.Meter(o.meter, ScopeName); m != nil {
		// The name is a constant, valid one: the SDK cannot refuse it, and a
		// provider that did would leave the fallback without metrics.
		c, err := m.Int64Counter(MetricFallbacks, metric.WithUnit("{call}"),
			metric.WithDescription("Calls whose outcome the fallback replaced"))
		if err == nil {
			f.fallbacks, f.attrs = c, metrics.Attrs([]attribute.KeyValue{attribute.String("grel.name", o.name)}).Add
		}
	}
	return f
}

// Value returns a fallback that replaces the outcome with v and no error.
func Value[T any](v T, opts ...Option) *Fallback[T] {
	return build(func(context.Context, error) (T, error) { return v, nil }, opts)
}

// Func returns a fallback that replaces the outcome with what fn returns;
// fn gets the call's error (nil when a result predicate matched).
func Func[T any](fn func(ctx context.Context, err error) (T, error), opts ...Option) *Fallback[T] {
	return build(fn, opts)
}

// Execute runs fn and, when the matcher matches its outcome, returns the
// fallback's instead. Otherwise fn's value and error come back as they are.
func (f *Fallback[T]) Execute(ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	v, err := fn(ctx)
	if err == nil && !f.when.UsesResult() {
		return v, nil
	}
	if !grelmatch.MatchValue(ctx, f.when, v, err) {
		return v, err
	}
	if f.fallbacks != nil {
		f.fallbacks.Add(ctx, 1, f.attrs...)
	}
	for _, h := range f.hooks {
		h(Event{Name: f.name, Err: err})
	}
	return f.fn(ctx, err)
}
