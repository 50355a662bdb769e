package grelhealth

import (
	"context"
	"errors"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Value groups of the health module. ChecksGroup equals
// fxgrel.HealthChecksGroup (a test holds them together); it is repeated here
// so that this package needs nothing of fxgrel at run time.
const (
	// ChecksGroup carries the Check values of providers, patterns and apps.
	ChecksGroup = "grel.health.checks"
	// OptionsGroup carries Checker options given through Fx (listeners).
	OptionsGroup = "grel.health.options"
	// DrainGroup carries the components, typically HTTP servers, that must
	// stop only after readiness has turned to 503 and the drain delay has
	// passed. See [StopAfterDrain].
	DrainGroup = "grel.health.drain"
)

// Module provides a *Checker, built from the *grelconfig.Registry,
// *zap.Logger and metric.MeterProvider when Fx has them, with every Check of
// the group ChecksGroup registered at construction (a duplicate name fails
// fx.New), and a *Handler that uses the Authorizer when Fx has one. Its
// hooks:
//
//   - the Checker's own: Start (background runs when GREL_HEALTH_INTERVAL is
//     set) and, on stop, Stop. It is appended when the Checker is built, so
//     it stops after everything built on it, HTTP servers included.
//   - the drain hook: on stop, Drain (readiness turns 503, then the drain
//     delay, shortened when the stop timeout cannot hold it plus
//     [DrainReserve], so that the hooks after it still run). Fx runs OnStop hooks in the reverse order of their OnStart, so
//     a hook stops first only if it was appended last. The drain hook is
//     appended by an invoke that first requires every member of DrainGroup:
//     building them appends their hooks before it, so it stops before them.
//     Put servers that mount the handler in DrainGroup with
//     [StopAfterDrain]; a server built before the Checker stops after the
//     drain anyway.
var Module = fx.Module("grel.health",
	fx.Provide(newFxChecker, newFxHandler),
	fx.Invoke(appendDrainHook),
)

type checkerParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Registry  *grelconfig.Registry `optional:"true"`
	Logger    *zap.Logger          `optional:"true"`
	Meter     metric.MeterProvider `optional:"true"`
	Checks    []Check              `group:"grel.health.checks"`
	Options   []Option             `group:"grel.health.options"`
}

func newFxChecker(p checkerParams) (*Checker, error) {
	opts := append([]Option(nil), p.Options...)
	if p.Registry != nil {
		opts = append(opts, WithRegistry(p.Registry))
	}
	if p.Logger != nil {
		opts = append(opts, WithLogger(p.Logger))
	}
	if p.Meter != nil {
		opts = append(opts, WithMeterProvider(p.Meter))
	}
	c, err := New(opts...)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ch := range p.Checks {
		errs = append(errs, c.Register(ch))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: c.Start, OnStop: c.Stop})
	return c, nil
}

type handlerParams struct {
	fx.In
	Checker    *Checker
	Authorizer Authorizer `optional:"true"`
}

func newFxHandler(p handlerParams) *Handler {
	return NewHandler(p.Checker, WithAuthorizer(p.Authorizer))
}

type drainParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Checker   *Checker
	// Requiring the members builds them, and so appends their hooks, before
	// the drain hook below.
	Servers []any `group:"grel.health.drain"`
}

func appendDrainHook(p drainParams) {
	p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error { return p.Checker.Drain(ctx) }))
}

// StopAfterDrain puts the value of type T that the app provides (typically
// its *http.Server, built by a constructor that appends the server's own
// start and stop hook) in DrainGroup, so that on stop readiness turns 503
// and the drain delay passes before that server stops:
//
//	fx.New(
//		fxgrel.Module, grelhealth.Module,
//		fx.Provide(newServer), // func(fx.Lifecycle, *grelhealth.Handler) *http.Server
//		grelhealth.StopAfterDrain[*http.Server](),
//	)
func StopAfterDrain[T any]() fx.Option {
	return fx.Provide(fx.Annotate(func(v T) any { return v }, fx.ResultTags(`group:"grel.health.drain"`)))
}

// Supply contributes checks to ChecksGroup from app code.
func Supply(checks ...Check) fx.Option {
	opts := make([]fx.Option, 0, len(checks))
	for _, ch := range checks {
		opts = append(opts, fx.Supply(fx.Annotated{Group: ChecksGroup, Target: ch}))
	}
	return fx.Options(opts...)
}

// SupplyOptions contributes Checker options (such as WithStatusListener) to
// OptionsGroup from app code.
func SupplyOptions(opts ...Option) fx.Option {
	out := make([]fx.Option, 0, len(opts))
	for _, o := range opts {
		out = append(out, fx.Supply(fx.Annotated{Group: OptionsGroup, Target: o}))
	}
	return fx.Options(out...)
}
