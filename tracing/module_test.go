package greltrace_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func TestModuleExportsOnStop(t *testing.T) {
	col, endpoint := startGRPCCollector(t)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_METRICS_EXPORTER":       "none",
		"OTEL_SERVICE_NAME":           "fx-app",
	}))
	var (
		tp   trace.TracerProvider
		mp   metric.MeterProvider
		prop propagation.TextMapPropagator
	)
	app := fxtest.New(t, fx.Supply(reg), greltrace.Module, fx.Populate(&tp, &mp, &prop))
	app.RequireStart()
	if greltrace.IsNoop(tp) {
		t.Fatal("an OTLP endpoint is set: the tracer provider must record")
	}
	_ = greltrace.Run(context.Background(), tp.Tracer("t"), "grel.fx.span", func(context.Context) error { return nil })
	app.RequireStop()
	spans := col.spans()
	if len(spans) != 1 || spans[0].name != "grel.fx.span" || spans[0].service != "fx-app" {
		t.Errorf("received %+v", spans)
	}
}

func TestModuleWithOptionsAndNoop(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	var tp trace.TracerProvider
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))),
		greltrace.Module,
		greltrace.WithOptions(greltrace.WithSpanProcessor(rec)),
		fx.Populate(&tp),
	)
	app.RequireStart()
	_, s := tp.Tracer("t").Start(context.Background(), "recorded")
	s.End()
	app.RequireStop()
	if len(rec.Ended()) != 1 {
		t.Errorf("recorder saw %d spans", len(rec.Ended()))
	}
}

func TestModuleRefusesBadVariable(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"OTEL_TRACES_SAMPLER": "sometimes-secret"}))
	app := fx.New(fx.NopLogger, fx.Supply(reg), greltrace.Module) // nothing asks for a provider
	err := app.Err()
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") || strings.Contains(err.Error(), "sometimes-secret") {
		t.Errorf("fx.New error %v: want the variable's name without its value", err)
	}
}
