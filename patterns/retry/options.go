package grelretry

import (
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Option configures a [Retrier].
type Option func(*options)

type options struct {
	// settings are resolved by New and applied on top of a Config given
	// as-is by NewFromConfig.
	settings []grelconfig.Setting[Config]
	logger   *zap.Logger
	tracer   trace.TracerProvider
	meter    metric.MeterProvider
	registry *grelconfig.Registry
	retryIf  grelmatch.Matcher
	hooks    []func(Event)
	random   func() float64
}

// Event describes one retry, for [WithOnRetry] hooks.
type Event struct {
	// Name is the retrier's name.
	Name string
	// Attempt is the number of the attempt that failed (1 for the first).
	Attempt int
	// Err is that attempt's error; nil when its result was retryable.
	Err error
	// Wait is how long the retrier waits before the next attempt.
	Wait time.Duration
	// Elapsed is the time since the first attempt started.
	Elapsed time.Duration
}

// setting is the option of a config field.
func setting[T any](f *grelconfig.Field[Config, T], v T) Option {
	s := f.Set(v)
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithAlgorithm chooses the wait algorithm (default Exponential).
func WithAlgorithm(a Algorithm) Option { return setting(algorithmField, a) }

// WithMaxAttempts bounds the attempts, the first included (0: no bound).
func WithMaxAttempts(n int) Option { return setting(maxAttemptsField, n) }

// WithMaxElapsed bounds the time from the start of the first attempt to the
// start of the last one.
func WithMaxElapsed(d time.Duration) Option { return setting(maxElapsedField, d) }

// WithDelay sets the wait of the Constant algorithm.
func WithDelay(d time.Duration) Option { return setting(delayField, d) }

// WithInitialDelay sets the first wait of Linear, Exponential and Fibonacci.
func WithInitialDelay(d time.Duration) Option { return setting(initialDelayField, d) }

// WithMinDelay sets the lower bound of the Random algorithm.
func WithMinDelay(d time.Duration) Option { return setting(minDelayField, d) }

// WithMaxDelay caps the waits (the upper bound of Random).
func WithMaxDelay(d time.Duration) Option { return setting(maxDelayField, d) }

// WithFactor sets the growth of the Exponential algorithm.
func WithFactor(f float64) Option { return setting(factorField, f) }

// WithJitter sets the jitter mode.
func WithJitter(j Jitter) Option { return setting(jitterField, j) }

// WithLogger logs one debug line per retry. The default is silent.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTracerProvider makes every Do start a span grel.retry.do with one
// event per attempt. Without it, the attempt events go to the span already
// in the context, when it is recording.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithMeterProvider emits the retrier's metrics: grel.retry.calls
// (counter, by outcome: success, exhausted with its reason, aborted) and
// grel.retry.retries (counter), both with grel.name, counted in the
// retrier and observed at collection. The default, and the no-op provider,
// emit nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
}

// WithRegistry sets where the config is read from and recorded (default: the
// process environment, recorded nowhere).
func WithRegistry(r *grelconfig.Registry) Option { return func(o *options) { o.registry = r } }

// WithRetryIf sets which outcomes are retried. The default retries every
// error. Caller cancellation ([grelmatch.IsCallerCanceled]) and
// [Permanent] errors are never retried, whatever m says. Result predicates
// ([grelmatch.Result]) make [DoValue] retry on results too.
func WithRetryIf(m grelmatch.Matcher) Option { return func(o *options) { o.retryIf = m } }

// WithOnRetry adds a hook called before each wait, synchronously, in the
// goroutine of Do. Hooks must not block.
func WithOnRetry(fn func(Event)) Option {
	return func(o *options) {
		if fn != nil {
			o.hooks = append(o.hooks, fn)
		}
	}
}

// WithRandom replaces the source of jitter and random waits: a function
// returning numbers in [0, 1), safe for concurrent use when the retrier is
// shared. The default is math/rand/v2's Float64.
func WithRandom(f func() float64) Option {
	return func(o *options) {
		if f != nil {
			o.random = f
		}
	}
}
