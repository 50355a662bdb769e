package greltrace_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func ExampleLoad() {
	// Nothing set: both providers are OpenTelemetry's no-ops.
	p, err := greltrace.Load(grelconfig.NewRegistry(grelconfig.Map(nil)))
	if err != nil {
		panic(err)
	}
	fmt.Println(greltrace.IsNoop(p.TracerProvider()))

	// An endpoint turns OTLP export on; exports start with Start.
	p, err = greltrace.Load(grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"OTEL_SERVICE_NAME":           "checkout",
	})))
	if err != nil {
		panic(err)
	}
	fmt.Println(greltrace.IsNoop(p.TracerProvider()), p.Config().TracesExporters)

	// A bad value names the variable, never the value.
	_, err = greltrace.Load(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"})))
	fmt.Println(err)
	// Output:
	// true
	// false [otlp]
	// grelconfig: OTEL_TRACES_EXPORTER (TracesExporters): must list otlp, console or none
}

func ExampleNew() {
	rec := tracetest.NewSpanRecorder()
	p, err := greltrace.New(greltrace.DefaultConfig(), greltrace.WithSpanProcessor(rec))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = p.Start(ctx)
	defer func() { _ = p.Stop(ctx) }()

	_, span := p.TracerProvider().Tracer("example").Start(ctx, "work")
	span.End()
	fmt.Println(rec.Ended()[0].Name())
	// Output: work
}

func ExampleRun() {
	rec := tracetest.NewSpanRecorder()
	p, _ := greltrace.New(greltrace.DefaultConfig(), greltrace.WithSpanProcessor(rec))
	tracer := p.TracerProvider().Tracer("example")

	err := greltrace.Run(context.Background(), tracer, "grel.lock.acquire", func(ctx context.Context) error {
		return errors.New("grellock: not acquired")
	}, attribute.String("grel.name", "cart"))

	s := rec.Ended()[0]
	fmt.Println(err)
	fmt.Println(s.Name(), s.Status().Code, s.Status().Description)
	// Output:
	// grellock: not acquired
	// grel.lock.acquire Error grellock: not acquired
}

func ExampleRunValue() {
	p, _ := greltrace.New(greltrace.DefaultConfig()) // no-op: the function still runs
	n, err := greltrace.RunValue(context.Background(), p.TracerProvider().Tracer("example"), "count",
		func(ctx context.Context) (int, error) { return 3, nil })
	fmt.Println(n, err)
	// Output: 3 <nil>
}

func ExampleAnnotate() {
	logger := zap.New(zapcore.NewCore(grellog.NewLogfmtEncoder(zapcore.EncoderConfig{MessageKey: "msg"}), zapcore.AddSync(os.Stdout), zapcore.InfoLevel))
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))

	// One call: the attributes go on the span and on every log line of ctx.
	ctx = greltrace.Annotate(ctx, attribute.String("order.id", "o-42"))
	grellog.Ctx(ctx, logger).Info("paid")
	// Output:
	// msg=paid trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 order.id=o-42
}

func ExampleModule() {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))), // fxgrel.Module provides it in an app
		greltrace.Module,
		fx.Invoke(func(tp trace.TracerProvider) { fmt.Println(greltrace.IsNoop(tp)) }),
	)
	if err := app.Err(); err != nil {
		panic(err)
	}
	// Output: true
}
