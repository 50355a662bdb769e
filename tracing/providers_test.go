package greltrace_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func TestNoopWhenNothingIsConfigured(t *testing.T) {
	for name, cfg := range map[string]greltrace.Config{
		"defaults": greltrace.DefaultConfig(),
		"disabled": func() greltrace.Config {
			c := greltrace.DefaultConfig()
			c.Disabled = true
			c.TracesExporters = []greltrace.Exporter{greltrace.ExporterConsole}
			return c
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := greltrace.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !greltrace.IsNoop(p.TracerProvider()) {
				t.Errorf("tracer provider %T, want the no-op one", p.TracerProvider())
			}
			if _, ok := p.MeterProvider().(metricnoop.MeterProvider); !ok {
				t.Errorf("meter provider %T, want the no-op one", p.MeterProvider())
			}
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := p.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIsNoop(t *testing.T) {
	if !greltrace.IsNoop(nil) {
		t.Error("nil is a no-op provider")
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	if greltrace.IsNoop(tp) {
		t.Error("the SDK provider is not a no-op")
	}
}

func newRecorded(t *testing.T, opts ...greltrace.Option) (*greltrace.Providers, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	p, err := greltrace.New(greltrace.DefaultConfig(), append(opts, greltrace.WithSpanProcessor(rec))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p, rec
}

func TestRun(t *testing.T) {
	p, rec := newRecorded(t)
	tracer := p.TracerProvider().Tracer("greltrace_test")
	ctx := context.Background()
	boom := errors.New("boom")

	var inner trace.SpanContext
	err := greltrace.Run(ctx, tracer, "ok", func(ctx context.Context) error {
		inner = trace.SpanContextFromContext(ctx)
		return nil
	}, attribute.String("grel.name", "cart"))
	if err != nil {
		t.Fatal(err)
	}
	if err := greltrace.Run(ctx, tracer, "fails", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want boom as is", err)
	}
	n, err := greltrace.RunValue(ctx, tracer, "value", func(context.Context) (int, error) { return 42, nil })
	if n != 42 || err != nil {
		t.Fatalf("RunValue = %d, %v", n, err)
	}
	func() {
		defer func() {
			if r := recover(); r != "bad" {
				t.Errorf("recovered %v, want the panic to go on", r)
			}
		}()
		_ = greltrace.Run(ctx, tracer, "panics", func(context.Context) error { panic("bad") })
	}()

	spans := rec.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans ended", len(spans))
	}
	tests := []struct {
		name   string
		status codes.Code
		desc   string
		events int
	}{
		{"ok", codes.Unset, "", 0},
		{"fails", codes.Error, "boom", 1},
		{"value", codes.Unset, "", 0},
		{"panics", codes.Error, "panic: bad", 1},
	}
	for i, tt := range tests {
		s := spans[i]
		if s.Name() != tt.name || s.Status().Code != tt.status || s.Status().Description != tt.desc || len(s.Events()) != tt.events {
			t.Errorf("span %d: %s %v %q %d events, want %+v", i, s.Name(), s.Status().Code, s.Status().Description, len(s.Events()), tt)
		}
	}
	if spans[0].SpanContext().SpanID() != inner.SpanID() {
		t.Error("fn did not get the span's context")
	}
	if got := spans[0].Attributes(); len(got) != 1 || got[0] != attribute.String("grel.name", "cart") {
		t.Errorf("attributes %v", got)
	}
}

func TestAnnotate(t *testing.T) {
	p, rec := newRecorded(t)
	tracer := p.TracerProvider().Tracer("greltrace_test")
	var buf bytes.Buffer
	logger, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithFormat(grellog.FormatLogfmt))
	if err != nil {
		t.Fatal(err)
	}
	var sc trace.SpanContext
	_ = greltrace.Run(context.Background(), tracer, "handle", func(ctx context.Context) error {
		ctx = greltrace.Annotate(ctx, attribute.String("order.id", "o-42"), attribute.Int("items", 3), attribute.StringSlice("tags", []string{"a"}))
		sc = trace.SpanContextFromContext(ctx)
		grellog.Ctx(ctx, logger).Info("handled")
		return nil
	})
	s := rec.Ended()[0]
	want := []attribute.KeyValue{attribute.String("order.id", "o-42"), attribute.Int("items", 3), attribute.StringSlice("tags", []string{"a"})}
	if got := s.Attributes(); len(got) != len(want) {
		t.Errorf("span attributes %v", got)
	}
	line := buf.String()
	for _, w := range []string{"trace_id=" + sc.TraceID().String(), "span_id=" + sc.SpanID().String(), "order.id=o-42", "items=3", `tags="[\"a\"]"`} {
		if !strings.Contains(line, w) {
			t.Errorf("log line %q lacks %s", line, w)
		}
	}
	// Without a span, Annotate still feeds the log context.
	ctx := greltrace.Annotate(context.Background(), attribute.Bool("dry_run", true))
	if f := grellog.ContextFields(ctx); len(f) != 1 || f[0].Key != "dry_run" {
		t.Errorf("context fields %v", f)
	}
}

func TestSamplerFromConfig(t *testing.T) {
	for _, tt := range []struct {
		sampler greltrace.Sampler
		arg     float64
		sampled bool
	}{
		{greltrace.SamplerAlwaysOn, 1, true},
		{greltrace.SamplerAlwaysOff, 1, false},
		{greltrace.SamplerTraceIDRatio, 0, false},
		{greltrace.SamplerTraceIDRatio, 1, true},
		{greltrace.SamplerParentBasedAlwaysOff, 1, false},
		{greltrace.SamplerParentBasedTraceIDRatio, 0, false},
		{greltrace.SamplerParentBasedAlwaysOn, 1, true},
	} {
		cfg := greltrace.DefaultConfig()
		cfg.Sampler, cfg.SamplerArg = tt.sampler, tt.arg
		rec := tracetest.NewSpanRecorder()
		p, err := greltrace.New(cfg, greltrace.WithSpanProcessor(rec))
		if err != nil {
			t.Fatal(err)
		}
		_, span := p.TracerProvider().Tracer("t").Start(context.Background(), "root")
		span.End()
		if got := len(rec.Ended()) == 1; got != tt.sampled {
			t.Errorf("%s(%v): sampled %v, want %v", tt.sampler, tt.arg, got, tt.sampled)
		}
		_ = p.Stop(context.Background())
	}
}

func TestResource(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*greltrace.Config)
		opts    []greltrace.Option
		service string
		extra   map[string]string
	}{
		{"unknown service", func(*greltrace.Config) {}, nil, "unknown_service:", nil},
		{"code default", func(*greltrace.Config) {}, []greltrace.Option{greltrace.WithDefaultServiceName("shop")}, "shop", nil},
		{"resource attribute over code default", func(c *greltrace.Config) {
			c.ResourceAttributes = []attribute.KeyValue{attribute.String("service.name", "from-attrs"), attribute.String("team", "env")}
		}, []greltrace.Option{greltrace.WithDefaultServiceName("shop")}, "from-attrs", map[string]string{"team": "env"}},
		{"OTEL_SERVICE_NAME over everything", func(c *greltrace.Config) {
			c.ServiceName = "cart"
			c.ResourceAttributes = []attribute.KeyValue{attribute.String("service.name", "from-attrs")}
		}, nil, "cart", nil},
		{"code attributes win", func(c *greltrace.Config) {
			c.ResourceAttributes = []attribute.KeyValue{attribute.String("team", "env")}
		}, []greltrace.Option{greltrace.WithResourceAttributes(attribute.String("team", "code"), attribute.String("service.version", "1.2"))},
			"unknown_service:", map[string]string{"team": "code", "service.version": "1.2", "telemetry.sdk.language": "go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := greltrace.DefaultConfig()
			tt.cfg(&cfg)
			rec := tracetest.NewSpanRecorder()
			p, err := greltrace.New(cfg, append(tt.opts, greltrace.WithSpanProcessor(rec))...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Stop(context.Background()) }()
			_, span := p.TracerProvider().Tracer("t").Start(context.Background(), "s")
			span.End()
			res := rec.Ended()[0].Resource()
			got := map[string]string{}
			for _, kv := range res.Attributes() {
				got[string(kv.Key)] = kv.Value.String()
			}
			if !strings.HasPrefix(got["service.name"], tt.service) || (tt.service != "unknown_service:" && got["service.name"] != tt.service) {
				t.Errorf("service.name %q, want %q", got["service.name"], tt.service)
			}
			for k, v := range tt.extra {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestConsoleExporters(t *testing.T) {
	cfg := greltrace.DefaultConfig()
	cfg.TracesExporters = []greltrace.Exporter{greltrace.ExporterConsole}
	cfg.MetricsExporters = []greltrace.Exporter{greltrace.ExporterConsole}
	var buf lockedBuffer
	p, err := greltrace.New(cfg, greltrace.WithConsoleWriter(&buf))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_ = greltrace.Run(ctx, p.TracerProvider().Tracer("t"), "grel.console.span", func(context.Context) error { return nil })
	c, _ := p.MeterProvider().Meter("t").Int64Counter("grel.console.counter")
	c.Add(ctx, 1)
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"Name":"grel.console.span"`, `"Name":"grel.console.counter"`} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %s:\n%s", want, out)
		}
	}
}

func TestMetricReaderOption(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	p, err := greltrace.New(greltrace.DefaultConfig(), greltrace.WithMetricReader(reader))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	c, _ := p.MeterProvider().Meter("t").Int64Counter("grel.test.counter")
	c.Add(context.Background(), 5)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sum := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64])
	if sum.DataPoints[0].Value != 5 {
		t.Errorf("counter %d", sum.DataPoints[0].Value)
	}
}

func TestStartTwiceAndStopTwice(t *testing.T) {
	p, _ := newRecorded(t)
	if err := p.Start(context.Background()); !errors.Is(err, greltrace.ErrStarted) {
		t.Errorf("second Start = %v", err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestPropagator(t *testing.T) {
	cfg := greltrace.DefaultConfig()
	p, err := greltrace.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Propagator().Fields()
	slices.Sort(got)
	if strings.Join(got, ",") != "baggage,traceparent,tracestate" {
		t.Errorf("fields %v", got)
	}
	cfg.Propagators = nil
	p, _ = greltrace.New(cfg)
	carrier := propagation.MapCarrier{}
	p.Propagator().Inject(context.Background(), carrier)
	if len(p.Propagator().Fields()) != 0 || len(carrier) != 0 {
		t.Error("no propagator should inject nothing")
	}
}

func TestExportFailuresAreLoggedOnce(t *testing.T) {
	cfg := greltrace.DefaultConfig()
	cfg.TracesExporters = []greltrace.Exporter{greltrace.ExporterOTLP}
	cfg.Protocol = greltrace.ProtocolHTTPProtobuf
	cfg.Endpoint = "http://" + closedPort(t)
	core, logs := observer.New(zapcore.DebugLevel)
	rec := tracetest.NewSpanRecorder()
	p, err := greltrace.New(cfg, greltrace.WithLogger(zap.New(core)), greltrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tp := p.TracerProvider().(*sdktrace.TracerProvider)
	for range 3 {
		_, s := tp.Tracer("t").Start(ctx, "s")
		s.End()
		_ = tp.ForceFlush(ctx)
	}
	_ = p.Stop(ctx)
	if n := logs.FilterMessage("telemetry export failed").FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d warnings for 3 failed exports, want 1: %v", n, logs.All())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
