package greltrace

import (
	"io"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
)

// Option configures [New] with what only code can give.
type Option func(*options)

type options struct {
	logger      *zap.Logger
	console     io.Writer
	serviceName string
	attrs       []attribute.KeyValue
	processors  []sdktrace.SpanProcessor
	readers     []sdkmetric.Reader
	sampler     sdktrace.Sampler
}

func collect(opts []Option) *options {
	o := &options{logger: zap.NewNop()}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// WithLogger logs export failures and recoveries (warn when an export first
// fails, debug while it keeps failing, info when it recovers). The default
// is silent.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithConsoleWriter is where the console exporters write (default
// os.Stdout).
func WithConsoleWriter(w io.Writer) Option {
	return func(o *options) { o.console = w }
}

// WithDefaultServiceName is service.name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES sets it.
func WithDefaultServiceName(name string) Option {
	return func(o *options) { o.serviceName = name }
}

// WithResourceAttributes adds attributes to the resource; they win over
// OTEL_RESOURCE_ATTRIBUTES for the same key (service.name excepted, see
// Config.ServiceName).
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return func(o *options) { o.attrs = append(o.attrs, attrs...) }
}

// WithSpanProcessor adds a span processor, for example a
// tracetest.SpanRecorder in tests. It makes the tracer provider an SDK one
// even when no exporter is configured. The provider shuts it down on stop.
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return func(o *options) {
		if sp != nil {
			o.processors = append(o.processors, sp)
		}
	}
}

// WithMetricReader adds a metric reader, for example an
// sdkmetric.ManualReader in tests. It makes the meter provider an SDK one
// even when no exporter is configured.
func WithMetricReader(r sdkmetric.Reader) Option {
	return func(o *options) {
		if r != nil {
			o.readers = append(o.readers, r)
		}
	}
}

// WithSampler replaces the sampler of OTEL_TRACES_SAMPLER.
func WithSampler(s sdktrace.Sampler) Option {
	return func(o *options) { o.sampler = s }
}
