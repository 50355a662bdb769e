package greltrace

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// ErrStarted is returned by a second [Providers.Start].
var ErrStarted = errors.New("greltrace: already started")

// Providers are an app's tracer and meter providers and the propagator,
// built by [New] from a Config. They export nothing until [Providers.Start]
// and flush on [Providers.Stop].
type Providers struct {
	cfg Config
	o   *options

	tracer trace.TracerProvider
	meter  metric.MeterProvider
	prop   propagation.TextMapPropagator
	sdkTP  *sdktrace.TracerProvider
	sdkMP  *sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader // feeds the metric exporters; nil without one

	mu       sync.Mutex
	started  bool
	stopped  bool
	guards   []*guard
	sinks    []metricSink
	loopStop chan struct{}
	loopDone chan struct{}
}

// New builds the providers of cfg (as given: it reads no environment). A
// signal with no exporter and no code-given processor or reader gets the
// OpenTelemetry no-op provider, so instrumented code costs nothing. New
// starts no goroutine and opens no connection: [Providers.Start] does.
func New(cfg Config, opts ...Option) (*Providers, error) {
	cfg = cfg.clone()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := collect(opts)
	p := &Providers{cfg: cfg, o: o, tracer: noop.NewTracerProvider(), meter: metricnoop.NewMeterProvider(), prop: newPropagator(cfg.Propagators)}
	if cfg.Disabled {
		return p, nil
	}
	res := newResource(cfg, o)
	if len(cfg.TracesExporters) > 0 || len(o.processors) > 0 {
		s := o.sampler
		if s == nil {
			s = newSampler(cfg)
		}
		tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(s)}
		for _, sp := range o.processors {
			tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
		}
		p.sdkTP = sdktrace.NewTracerProvider(tpOpts...)
		p.tracer = p.sdkTP
	}
	if len(cfg.MetricsExporters) > 0 || len(o.readers) > 0 {
		mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		if len(cfg.MetricsExporters) > 0 {
			p.reader = sdkmetric.NewManualReader()
			mpOpts = append(mpOpts, sdkmetric.WithReader(p.reader))
		}
		for _, r := range o.readers {
			mpOpts = append(mpOpts, sdkmetric.WithReader(r))
		}
		p.sdkMP = sdkmetric.NewMeterProvider(mpOpts...)
		p.meter = p.sdkMP
	}
	return p, nil
}

// Load resolves the Config from reg (see [LoadConfig]) and builds the
// providers. A nil reg reads the process environment.
func Load(reg *grelconfig.Registry, opts ...Option) (*Providers, error) {
	cfg, err := LoadConfig(reg)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}

// TracerProvider returns the tracer provider: an *sdktrace.TracerProvider,
// or noop.TracerProvider when tracing is off.
func (p *Providers) TracerProvider() trace.TracerProvider { return p.tracer }

// MeterProvider returns the meter provider: an *sdkmetric.MeterProvider, or
// the metric no-op provider when metrics are off.
func (p *Providers) MeterProvider() metric.MeterProvider { return p.meter }

// Propagator returns the propagator of OTEL_PROPAGATORS.
func (p *Providers) Propagator() propagation.TextMapPropagator { return p.prop }

// Config returns the configuration the providers were built from.
func (p *Providers) Config() Config { return p.cfg.clone() }

// SetGlobal installs the providers and the propagator as OpenTelemetry's
// globals, for instrumentation libraries that only read those. grelmicro
// never does it by itself.
func (p *Providers) SetGlobal() {
	otel.SetTracerProvider(p.tracer)
	otel.SetMeterProvider(p.meter)
	otel.SetTextMapPropagator(p.prop)
}

// Start creates the exporters and starts exporting: spans through a batch
// span processor, metrics every MetricInterval. It connects to nothing yet
// (OTLP clients dial on the first export), so it does not block.
func (p *Providers) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return ErrStarted
	}
	p.started = true
	if p.sdkTP != nil {
		for _, e := range p.cfg.TracesExporters {
			exp, err := p.newSpanExporter(ctx, e)
			if err != nil {
				return err
			}
			g := newGuard("traces", string(e), p.o.logger)
			p.guards = append(p.guards, g)
			p.sdkTP.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(&spanExporter{inner: exp, g: g}))
		}
	}
	if p.reader != nil {
		for _, e := range p.cfg.MetricsExporters {
			exp, err := p.newMetricExporter(ctx, e)
			if err != nil {
				return err
			}
			g := newGuard("metrics", string(e), p.o.logger)
			p.guards = append(p.guards, g)
			p.sinks = append(p.sinks, metricSink{exp: exp, g: g})
		}
		p.loopStop, p.loopDone = make(chan struct{}), make(chan struct{})
		go p.metricLoop(p.loopStop, p.loopDone)
	}
	return nil
}

// Stop flushes what is buffered and shuts the providers down, within
// ShutdownTimeout (GREL_TRACE_SHUTDOWN_TIMEOUT) or ctx's deadline, whichever
// comes first. When the bound passes (a collector that is down or stalls),
// the exports in flight are abandoned and their data dropped, with a warning
// in the log: Stop does not fail the app's stop for it. Stop is idempotent.
func (p *Providers) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	guards := p.guards
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, p.cfg.ShutdownTimeout)
	defer cancel()
	// When the bound passes, cut the exports in flight so that every
	// exporter goroutine ends now rather than at its own timeout.
	stopAbort := context.AfterFunc(ctx, func() {
		for _, g := range guards {
			g.abort()
		}
	})
	defer stopAbort()

	var wg sync.WaitGroup
	var terr, merr error
	if p.sdkTP != nil {
		wg.Go(func() { terr = p.sdkTP.Shutdown(ctx) })
	}
	if p.sdkMP != nil {
		wg.Go(func() { merr = p.stopMetrics(ctx) })
	}
	wg.Wait()

	err := errors.Join(terr, merr)
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		p.o.logger.Warn("telemetry flush abandoned at stop: some spans or metrics are lost",
			zap.Duration("duration", p.cfg.ShutdownTimeout), zap.Error(err))
		return nil
	}
	return err
}

func (p *Providers) stopMetrics(ctx context.Context) error {
	if p.loopStop != nil {
		close(p.loopStop)
		<-p.loopDone // an export in flight ends at the bound at the latest
		p.exportMetrics(ctx)
		for _, s := range p.sinks {
			_ = s.g.shutdown(ctx, s.exp.Shutdown)
		}
	}
	return p.sdkMP.Shutdown(ctx)
}

func (p *Providers) metricLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(p.cfg.MetricInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ExportTimeout)
			p.exportMetrics(ctx)
			cancel()
		}
	}
}

func (p *Providers) exportMetrics(ctx context.Context) {
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(ctx, &rm); err != nil {
		p.o.logger.Debug("metric collection failed", zap.Error(err))
		return
	}
	for _, s := range p.sinks {
		_ = s.g.run(ctx, func(ctx context.Context) error { return s.exp.Export(ctx, &rm) })
	}
}

func (p *Providers) consoleWriter() io.Writer {
	if p.o.console != nil {
		return p.o.console
	}
	return os.Stdout
}

func (p *Providers) headers() map[string]string {
	h := map[string]string{} // an empty map still overrides the exporter's own reading of the environment
	for k, v := range p.cfg.Headers {
		h[k] = v
	}
	return h
}

// otlpURL returns the URL of one signal: its own endpoint as is, else the
// base endpoint (the protocol's localhost default when unset) with the
// signal's path for HTTP.
func (p *Providers) otlpURL(signalEndpoint, path string) string {
	if signalEndpoint != "" {
		return signalEndpoint
	}
	base := p.cfg.Endpoint
	if base == "" {
		base = "http://localhost:4318"
		if p.cfg.Protocol == ProtocolGRPC {
			base = "http://localhost:4317"
		}
	}
	if p.cfg.Protocol == ProtocolGRPC {
		return base
	}
	u, err := url.Parse(base)
	if err != nil { // validated in New
		return base
	}
	return u.JoinPath(path).String()
}

func (p *Providers) newSpanExporter(ctx context.Context, e Exporter) (sdktrace.SpanExporter, error) {
	if e == ExporterConsole {
		return stdouttrace.New(stdouttrace.WithWriter(p.consoleWriter()))
	}
	u := p.otlpURL(p.cfg.TracesEndpoint, "v1/traces")
	if p.cfg.Protocol == ProtocolGRPC {
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u), otlptracegrpc.WithHeaders(p.headers()), otlptracegrpc.WithTimeout(p.cfg.ExportTimeout))
	}
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u), otlptracehttp.WithHeaders(p.headers()), otlptracehttp.WithTimeout(p.cfg.ExportTimeout))
}

func (p *Providers) newMetricExporter(ctx context.Context, e Exporter) (sdkmetric.Exporter, error) {
	// Cumulative temporality, as the manual reader collects.
	if e == ExporterConsole {
		return stdoutmetric.New(stdoutmetric.WithWriter(p.consoleWriter()), stdoutmetric.WithTemporalitySelector(sdkmetric.DefaultTemporalitySelector))
	}
	u := p.otlpURL(p.cfg.MetricsEndpoint, "v1/metrics")
	if p.cfg.Protocol == ProtocolGRPC {
		return otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpointURL(u), otlpmetricgrpc.WithHeaders(p.headers()),
			otlpmetricgrpc.WithTimeout(p.cfg.ExportTimeout), otlpmetricgrpc.WithTemporalitySelector(sdkmetric.DefaultTemporalitySelector))
	}
	return otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(u), otlpmetrichttp.WithHeaders(p.headers()),
		otlpmetrichttp.WithTimeout(p.cfg.ExportTimeout), otlpmetrichttp.WithTemporalitySelector(sdkmetric.DefaultTemporalitySelector))
}

func newPropagator(ps []Propagator) propagation.TextMapPropagator {
	var list []propagation.TextMapPropagator
	for _, p := range ps {
		switch p {
		case PropagatorTraceContext:
			list = append(list, propagation.TraceContext{})
		case PropagatorBaggage:
			list = append(list, propagation.Baggage{})
		}
	}
	return propagation.NewCompositeTextMapPropagator(list...)
}

func newSampler(cfg Config) sdktrace.Sampler {
	switch cfg.Sampler {
	case SamplerAlwaysOn:
		return sdktrace.AlwaysSample()
	case SamplerAlwaysOff:
		return sdktrace.NeverSample()
	case SamplerTraceIDRatio:
		return sdktrace.TraceIDRatioBased(cfg.SamplerArg)
	case SamplerParentBasedAlwaysOff:
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case SamplerParentBasedTraceIDRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

const serviceNameKey = attribute.Key("service.name")

func newResource(cfg Config, o *options) *resource.Resource {
	var kvs []attribute.KeyValue
	seen := map[attribute.Key]int{}
	add := func(kv attribute.KeyValue) {
		if i, ok := seen[kv.Key]; ok {
			kvs[i] = kv
			return
		}
		seen[kv.Key] = len(kvs)
		kvs = append(kvs, kv)
	}
	add(attribute.String("telemetry.sdk.name", "opentelemetry"))
	add(attribute.String("telemetry.sdk.language", "go"))
	add(attribute.String("telemetry.sdk.version", sdk.Version()))
	envName := ""
	for _, kv := range cfg.ResourceAttributes {
		if kv.Key == serviceNameKey {
			envName = kv.Value.AsString()
		}
		add(kv)
	}
	for _, kv := range o.attrs {
		if kv.Key != serviceNameKey {
			add(kv)
		}
	}
	name := cfg.ServiceName
	for _, n := range []string{envName, o.serviceName, "unknown_service:" + filepath.Base(os.Args[0])} {
		if name == "" {
			name = n
		}
	}
	add(serviceNameKey.String(name))
	return resource.NewSchemaless(kvs...)
}

// spanExporter runs every export of a span exporter under a guard.
type spanExporter struct {
	inner sdktrace.SpanExporter
	g     *guard
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return e.g.run(ctx, func(ctx context.Context) error { return e.inner.ExportSpans(ctx, spans) })
}

func (e *spanExporter) Shutdown(ctx context.Context) error {
	return e.g.shutdown(ctx, e.inner.Shutdown)
}

type metricSink struct {
	exp sdkmetric.Exporter
	g   *guard
}

// guard runs a signal's exports so that Stop can cut them all when its
// bound passes, and reports failures to the log instead of OpenTelemetry's
// global error handler: warn on the first failure, debug while failing,
// info on recovery.
type guard struct {
	signal, exporter string
	log              *zap.Logger

	mu      sync.Mutex
	aborted bool
	failing bool
	next    int
	cancels map[int]context.CancelFunc
}

func newGuard(signal, exporter string, log *zap.Logger) *guard {
	return &guard{signal: signal, exporter: exporter, log: log, cancels: map[int]context.CancelFunc{}}
}

// run calls fn with a context that abort cancels. It reports fn's error to
// the log and returns nil, so the SDK does not print it again.
func (g *guard) run(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	if g.aborted {
		g.mu.Unlock()
		g.log.Debug("telemetry export abandoned at stop", zap.String("signal", g.signal))
		return nil
	}
	id := g.next
	g.next++
	g.cancels[id] = cancel
	g.mu.Unlock()

	err := fn(ctx)

	g.mu.Lock()
	delete(g.cancels, id)
	aborted, wasFailing := g.aborted, g.failing
	g.failing = err != nil && !aborted
	g.mu.Unlock()

	fields := []zap.Field{zap.String("signal", g.signal), zap.String("exporter", g.exporter)}
	switch {
	case err == nil && wasFailing:
		g.log.Info("telemetry export recovered", fields...)
	case err == nil:
	case aborted:
		g.log.Debug("telemetry export abandoned at stop", append(fields, zap.Error(err))...)
	case !wasFailing:
		g.log.Warn("telemetry export failed", append(fields, zap.Error(err))...)
	default:
		g.log.Debug("telemetry export failed", append(fields, zap.Error(err))...)
	}
	return nil
}

// shutdown calls an exporter's Shutdown even after abort (with a context
// already cancelled then), so that its connections are closed.
func (g *guard) shutdown(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	if g.aborted {
		cancel()
	} else {
		g.cancels[-1] = cancel
	}
	g.mu.Unlock()
	err := fn(ctx)
	g.mu.Lock()
	delete(g.cancels, -1)
	g.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		g.log.Debug("telemetry exporter shutdown failed", zap.String("signal", g.signal), zap.String("exporter", g.exporter), zap.Error(err))
	}
	return nil
}

func (g *guard) abort() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.aborted = true
	for _, cancel := range g.cancels {
		cancel()
	}
}

var _ sdktrace.SpanExporter = (*spanExporter)(nil)
