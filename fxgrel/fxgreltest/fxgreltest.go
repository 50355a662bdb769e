// Package fxgreltest builds Fx test apps on fxgrel.Module for the tests of
// every other module: the config comes from a map (never the process
// environment), logs go to an in-memory observer, spans to an in-memory
// recorder and metrics to a manual reader.
//
//	var logs *observer.ObservedLogs
//	var spans *tracetest.SpanRecorder
//	app := fxgreltest.Start(t, map[string]string{"GREL_LOCK_LEASE_DURATION": "5s"},
//		grellock.Module,
//		fx.Populate(&logs, &spans))
//
// The app provides, besides everything fxgrel.Module provides:
//
//   - *observer.ObservedLogs: every entry the app's logger writes (at debug
//     and above unless env sets GREL_LOG_LEVEL), nothing written elsewhere;
//   - *tracetest.SpanRecorder: every span of the app's tracer provider,
//     which therefore records (it is not the no-op one);
//   - *sdkmetric.ManualReader: the app's metrics, read with [CollectMetrics].
package fxgreltest

import (
	"context"
	"io"
	"maps"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// TB is the part of testing.TB the helpers use; *testing.T and *testing.B
// satisfy it.
type TB interface {
	fxtest.TB
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// New returns an unstarted test app of fxgrel.Module and opts, configured by
// env alone (nil is an empty environment). GREL_LOG_LEVEL defaults to debug
// so that tests observe per-operation logs. The app fails the test if it
// cannot be built; start it with RequireStart (or use [Start]).
func New(t TB, env map[string]string, opts ...fx.Option) *fxtest.App {
	t.Helper()
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["GREL_LOG_LEVEL"]; !ok {
		env["GREL_LOG_LEVEL"] = "debug"
	}
	core, logs := observer.New(zapcore.DebugLevel)
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	base := []fx.Option{
		fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(env)),
		grellog.WithOptions(grellog.WithWriter(io.Discard), grellog.WithTee(core)),
		greltrace.WithOptions(greltrace.WithSpanProcessor(spans), greltrace.WithMetricReader(reader)),
		fx.Supply(logs, spans, reader),
	}
	return fxtest.New(t, append(base, opts...)...)
}

// Start is [New] then RequireStart; the app is stopped when the test ends.
func Start(t TB, env map[string]string, opts ...fx.Option) *fxtest.App {
	t.Helper()
	app := New(t, env, opts...)
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	return app
}

// CollectMetrics reads every metric the app recorded so far.
func CollectMetrics(t TB, reader *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("fxgreltest: collect metrics: %v", err)
	}
	return rm
}

// FindMetric returns the metric named name in rm.
func FindMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}
