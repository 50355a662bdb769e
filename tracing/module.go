package greltrace

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// OptionsGroup is the Fx value group of []Option (flattened) that [Module]
// applies to the providers it builds. [WithOptions] contributes to it.
const OptionsGroup = "grel.trace.options"

// Module provides the app's *Providers (from the OTEL_* variables and
// GREL_TRACE_* of the *grelconfig.Registry when the app has one, the
// process environment otherwise), with its trace.TracerProvider,
// metric.MeterProvider and propagation.TextMapPropagator. Exports start on
// the app's start and are flushed, within GREL_TRACE_SHUTDOWN_TIMEOUT, on its
// stop. Export failures go to the app's *zap.Logger when there is one.
var Module = fx.Module("grel.trace",
	fx.Provide(newModule),
	// Build the providers even when nothing asks for them, so that a bad
	// OTEL_* value always fails fx.New and describe lists the variables.
	fx.Invoke(func(*Providers) {}),
)

// WithOptions gives options to the providers [Module] builds, from anywhere
// in the app (fxgreltest adds a span recorder this way).
func WithOptions(opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func() []Option { return opts }, fx.ResultTags(`group:"`+OptionsGroup+`,flatten"`)))
}

type moduleParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Registry  *grelconfig.Registry `optional:"true"`
	Logger    *zap.Logger          `optional:"true"`
	Options   []Option             `group:"grel.trace.options"`
}

type moduleResult struct {
	fx.Out
	Providers      *Providers
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
}

func newModule(p moduleParams) (moduleResult, error) {
	opts := p.Options
	if p.Logger != nil {
		opts = append([]Option{WithLogger(p.Logger.Named("otel"))}, opts...)
	}
	prov, err := Load(p.Registry, opts...)
	if err != nil {
		return moduleResult{}, err
	}
	p.Lifecycle.Append(fx.StartStopHook(prov.Start, prov.Stop))
	return moduleResult{Providers: prov, TracerProvider: prov.TracerProvider(), MeterProvider: prov.MeterProvider(), Propagator: prov.Propagator()}, nil
}
