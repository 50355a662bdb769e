package grelratelimit

import (
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Option configures a [Limiter]. Options that set a Config field win over
// the environment (they are the first step of the resolution order);
// options for code-only things (logger, tracer, meter, registry) have no
// variable.
type Option func(*options)

type options struct {
	// settings are resolved by New and applied on top of a Config given
	// as-is by NewFromConfig.
	settings []grelconfig.Setting[Config]
	// bucketOpt and windowOpt name an algorithm-specific option that was
	// given, to refuse it on a limiter of the other algorithm.
	bucketOpt, windowOpt string

	logger      *zap.Logger
	tracer      trace.TracerProvider
	meter       metric.MeterProvider
	registry    *grelconfig.Registry
	backendName string
}

func (o *options) set(s grelconfig.Setting[Config]) { o.settings = append(o.settings, s) }

// WithAlgorithm chooses the algorithm: TokenBucket (the default) or
// SlidingWindow. It is code: no variable can change it.
func WithAlgorithm(a Algorithm) Option {
	return func(o *options) { o.set(algorithmField.Set(a)) }
}

// WithRate sets the permits a token bucket earns per Period (RATE).
func WithRate(rate float64) Option {
	return func(o *options) {
		o.bucketOpt = "WithRate"
		o.set(rateField.Set(rate))
	}
}

// WithPeriod sets the period over which Rate permits are earned (PERIOD).
func WithPeriod(d time.Duration) Option {
	return func(o *options) {
		o.bucketOpt = "WithPeriod"
		o.set(periodField.Set(d))
	}
}

// WithBurst sets the token bucket's capacity (BURST).
func WithBurst(n int) Option {
	return func(o *options) { o.bucketOpt = "WithBurst"; o.set(burstField.Set(n)) }
}

// WithLimit sets the sliding window's limit per window (LIMIT).
func WithLimit(n int) Option {
	return func(o *options) { o.windowOpt = "WithLimit"; o.set(limitField.Set(n)) }
}

// WithWindow sets the sliding window's length (WINDOW).
func WithWindow(d time.Duration) Option {
	return func(o *options) {
		o.windowOpt = "WithWindow"
		o.set(windowField.Set(d))
	}
}

// WithTimeout bounds each call to a remote store (TIMEOUT).
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.set(timeoutField.Set(d)) }
}

// WithDegradation sets what happens when the store fails (DEGRADATION).
func WithDegradation(d Degradation) Option {
	return func(o *options) { o.set(degradationField.Set(d)) }
}

// WithProbeInterval sets how long decisions degrade without calling a
// failed store (PROBE_INTERVAL).
func WithProbeInterval(d time.Duration) Option {
	return func(o *options) { o.set(probeField.Set(d)) }
}

// WithTrustedProxies sets the proxies whose forwarding header the HTTP
// middleware believes (TRUSTED_PROXIES): addresses or CIDR prefixes.
func WithTrustedProxies(list ...string) Option {
	return func(o *options) { o.set(proxiesField.Set(list)) }
}

// WithClientIPHeader sets the header the trusted proxies set
// (CLIENT_IP_HEADER).
func WithClientIPHeader(name string) Option {
	return func(o *options) { o.set(headerField.Set(name)) }
}

// WithLogger sets the logger (default: none). The limiter logs store
// failures and recoveries at warn and info, each decision at debug.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTracerProvider sets the tracer provider (default: no-op). With a
// real one, every decision is a span; with the no-op one, spans are skipped
// entirely.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithMeterProvider sets the meter provider of the decisions counter
// (default: no-op).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
}

// WithRegistry sets where the config is read and recorded (default: a
// registry over the process environment).
func WithRegistry(r *grelconfig.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithBackendName picks, under Fx, the backend offered under this provider
// instance name in [BackendGroup] (default: the unnamed one).
func WithBackendName(name string) Option {
	return func(o *options) { o.backendName = name }
}
