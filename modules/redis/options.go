package grelredis

import (
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Option configures a [Provider] with what only code gives.
type Option func(*options)

type options struct {
	provider.Options
	url       string
	hasURL    bool
	tp        trace.TracerProvider
	configure func(*Options)
}

func buildOptions(opts []Option) options {
	o := options{Options: provider.Defaults()}
	provider.Apply(&o, opts)
	return o
}

// WithURL sets the URL in code: REDIS_URL (or REDIS_{NAME}_URL) is then not
// read.
func WithURL(rawURL string) Option {
	return func(o *options) { o.url, o.hasURL = rawURL, true }
}

// WithRegistry sets where the vendor variables are read and recorded for
// describe (default: a registry over the process environment).
func WithRegistry(reg *grelconfig.Registry) Option {
	return func(o *options) { o.SetRegistry(reg) }
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.SetLogger(l) }
}

// WithTracerProvider switches go-redis's own OpenTelemetry tracing
// (redisotel) on for clients the provider creates, unless tp is the no-op
// provider. A wrapped client is never instrumented: its owner decides.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithNonCriticalCheck makes the readiness check non-critical: a Redis that
// is down then shows in /healthz but does not make the service unready.
func WithNonCriticalCheck() Option {
	return func(o *options) { o.NonCritical = true }
}

// WithClientOptions lets code adjust the parsed go-redis options (a TLS
// config, a credentials provider, hooks) before the client is created.
func WithClientOptions(configure func(*Options)) Option {
	return func(o *options) { o.configure = configure }
}
