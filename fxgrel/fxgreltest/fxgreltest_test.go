package fxgreltest_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartObservesEverything(t *testing.T) {
	var (
		logs   *observer.ObservedLogs
		spans  *tracetest.SpanRecorder
		reader *sdkmetric.ManualReader
		logger *zap.Logger
		tp     trace.TracerProvider
		mp     metric.MeterProvider
	)
	fxgreltest.Start(t, nil, fx.Populate(&logs, &spans, &reader, &logger, &tp, &mp))

	logger.Debug("per operation", zap.String("op", "acquire"))
	if got := logs.FilterMessage("per operation").FilterField(zap.String("op", "acquire")).Len(); got != 1 {
		t.Errorf("observed %d debug entries, want 1 (GREL_LOG_LEVEL defaults to debug)", got)
	}
	if logs.FilterLoggerName("fx").Len() == 0 {
		t.Error("the Fx events are not observed")
	}

	if greltrace.IsNoop(tp) {
		t.Fatal("the tracer provider must record in tests")
	}
	_ = greltrace.Run(context.Background(), tp.Tracer("t"), "grel.test.op", func(context.Context) error { return nil })
	if ended := spans.Ended(); len(ended) != 1 || ended[0].Name() != "grel.test.op" {
		t.Errorf("recorded %v", ended)
	}

	c, _ := mp.Meter("t").Int64Counter("grel.test.count")
	c.Add(context.Background(), 2)
	m, ok := fxgreltest.FindMetric(fxgreltest.CollectMetrics(t, reader), "grel.test.count")
	if !ok || m.Data.(metricdata.Sum[int64]).DataPoints[0].Value != 2 {
		t.Errorf("metric %+v, found %v", m, ok)
	}
	if _, ok := fxgreltest.FindMetric(metricdata.ResourceMetrics{}, "absent"); ok {
		t.Error("found a metric in nothing")
	}
}

func TestEnvIsTheOnlySource(t *testing.T) {
	t.Setenv("GREL_LOG_LEVEL", "error") // the process environment must not count
	var logs *observer.ObservedLogs
	var logger *zap.Logger
	fxgreltest.Start(t, map[string]string{"GREL_LOG_LEVEL": "warn"}, fx.Populate(&logs, &logger))
	logger.Info("hidden")
	logger.Warn("shown")
	if logs.FilterMessage("hidden").Len() != 0 || logs.FilterMessage("shown").Len() != 1 {
		t.Errorf("observed %v", logs.All())
	}
}

func TestNewDoesNotStart(t *testing.T) {
	started := false
	app := fxgreltest.New(t, nil, fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.StartHook(func() { started = true }))
	}))
	if started {
		t.Fatal("New started the app")
	}
	app.RequireStart().RequireStop()
	if !started {
		t.Error("the app did not start")
	}
}
