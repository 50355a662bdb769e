package grelbreaker

import (
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Option configures a [Breaker] or a [Group].
type Option func(*options)

type options struct {
	settings    []grelconfig.Setting[Config]
	logger      *zap.Logger
	tracer      trace.TracerProvider
	meter       metric.MeterProvider
	registry    *grelconfig.Registry
	failIf      grelmatch.Matcher
	ignoreIf    grelmatch.Matcher
	listeners   []func(Event)
	onDegraded  []func(DegradedEvent)
	key         string
	backendName string
	backendDesc string
}

// setting is the option of a config field: resolved by New, applied on top
// of the Config given to NewFromConfig.
func setting[T any](f *grelconfig.Field[Config, T], v T) Option {
	s := f.Set(v)
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithAlgorithm chooses the trip rule (default ConsecutiveFailures).
func WithAlgorithm(a Algorithm) Option { return setting(algorithmField, a) }

// WithFailureThreshold sets the failures in a row that trip (ConsecutiveFailures).
func WithFailureThreshold(n int) Option {
	return setting(failureThresholdField, n)
}

// WithFailureRate sets the failure percentage that trips (the window algorithms).
func WithFailureRate(pct float64) Option { return setting(failureRateField, pct) }

// WithMinCalls sets the calls a window needs before a rate trips.
func WithMinCalls(n int) Option { return setting(minCallsField, n) }

// WithWindowSize sets the calls counted by CountWindow.
func WithWindowSize(n int) Option { return setting(windowSizeField, n) }

// WithWindow sets the time counted by TimeWindow.
func WithWindow(d time.Duration) Option { return setting(windowField, d) }

// WithBuckets sets the slices of TimeWindow's window.
func WithBuckets(n int) Option { return setting(bucketsField, n) }

// WithSlowCallDuration makes calls this long slow (0: off).
func WithSlowCallDuration(d time.Duration) Option {
	return setting(slowCallDurationField, d)
}

// WithSlowCallRate sets the slow-call percentage that trips.
func WithSlowCallRate(pct float64) Option { return setting(slowCallRateField, pct) }

// WithOpenDuration sets how long the breaker stays open.
func WithOpenDuration(d time.Duration) Option { return setting(openDurationField, d) }

// WithOpenDurationFactor grows the open duration on repeated trips.
func WithOpenDurationFactor(f float64) Option {
	return setting(openDurationFactorField, f)
}

// WithMaxOpenDuration caps the growing open duration.
func WithMaxOpenDuration(d time.Duration) Option {
	return setting(maxOpenDurationField, d)
}

// WithHalfOpenMaxCalls sets the trial calls admitted at once in half-open.
func WithHalfOpenMaxCalls(n int) Option {
	return setting(halfOpenMaxCallsField, n)
}

// WithSuccessThreshold sets the successful trials that close the breaker.
func WithSuccessThreshold(n int) Option {
	return setting(successThresholdField, n)
}

// WithStaleness bounds the age of the local copy of a shared state.
func WithStaleness(d time.Duration) Option { return setting(stalenessField, d) }

// WithStoreTimeout bounds each operation on a shared store.
func WithStoreTimeout(d time.Duration) Option {
	return setting(storeTimeoutField, d)
}

// WithMaxKeys bounds the breakers a Group keeps.
func WithMaxKeys(n int) Option { return setting(maxKeysField, n) }

// WithLogger logs state changes at info and store trouble at warn. The
// default is silent.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTracerProvider traces the operations on a shared store (spans
// grel.breaker.allow, .record, .load, .set). Without it, or with the no-op
// provider, nothing is traced; rejections and transitions add an event to
// the caller's span when it is recording.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithMeterProvider emits the breaker's metrics: grel.breaker.state (gauge,
// observed from the start), grel.breaker.calls by outcome,
// grel.breaker.transitions, grel.breaker.degraded and
// grel.breaker.store_errors. Instruments are observed at collection, so
// they cost nothing per call.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
}

// WithRegistry sets where the config is read from and recorded (default: the
// process environment, recorded nowhere).
func WithRegistry(r *grelconfig.Registry) Option { return func(o *options) { o.registry = r } }

// WithFailureIf sets which outcomes are failures. The default counts every
// error. An outcome the matcher does not match, and no ignore matcher
// matches, is a success; result predicates work with [ExecuteValue].
func WithFailureIf(m grelmatch.Matcher) Option { return func(o *options) { o.failIf = m } }

// WithIgnoreIf sets which outcomes count as neither success nor failure; it
// wins over [WithFailureIf]. The default is [grelmatch.CallerCanceled]: the
// caller's own cancellation is neutral. Keep it with
// grelmatch.Or(grelmatch.CallerCanceled(), m); pass grelmatch.Never() to
// count cancellations as failures.
func WithIgnoreIf(m grelmatch.Matcher) Option { return func(o *options) { o.ignoreIf = m } }

// WithOnStateChange adds a listener called on every state change, and once
// at [Breaker.Start] with the initial state. Listeners run outside every
// lock of the breaker (they may call it), one event at a time and in the
// order of the transitions, in the goroutine that caused the change or in
// the one still delivering an earlier event.
func WithOnStateChange(fn func(Event)) Option {
	return func(o *options) {
		if fn != nil {
			o.listeners = append(o.listeners, fn)
		}
	}
}

// WithOnDegraded adds a listener called when a breaker on a shared store
// falls back to local state, and when it is back on the store.
func WithOnDegraded(fn func(DegradedEvent)) Option {
	return func(o *options) {
		if fn != nil {
			o.onDegraded = append(o.onDegraded, fn)
		}
	}
}

// WithKey sets the key under which the breaker's state is kept in its
// Backend (default: the breaker's name). Breakers with one key on one
// shared Backend share their state.
func WithKey(key string) Option { return func(o *options) { o.key = key } }

// WithBackendName picks, under Fx, the Backend offered in [BackendGroup]
// under that provider instance name (default: the unnamed one).
func WithBackendName(name string) Option { return func(o *options) { o.backendName = name } }
