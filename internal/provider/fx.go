package provider

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
)

// AbortTimeout bounds the Stop that closes a client after a failed start
// when [Parts.Abort] is nil.
const AbortTimeout = 5 * time.Second

// Tag returns the Fx tag of the named instance: name:"<name>", or "" for
// the default.
func Tag(name string) string {
	if name == "" {
		return ""
	}
	return "name:" + strconv.Quote(name)
}

// Parts is what one provider instance offers under Fx: P is the package's
// *Provider, C its client, I its Instance.
type Parts[P, C, I any] struct {
	Provider P
	Client   C
	Instance I
	Check    grelhealth.Check
	// Start runs in OnStart, Stop in OnStop.
	Start, Stop func(context.Context) error
	// Abort releases the client after Start failed: Fx does not stop a
	// hook whose start failed. Nil: Stop within a fresh [AbortTimeout],
	// detached from the start ctx.
	Abort func(ctx context.Context)
}

// Provide wires one provider instance of the package pkg ("grelredis"):
// build makes its [Parts] from the package's Fx parameters D (an fx.In
// struct), once, when Fx first needs them. A name that [ValidateName]
// refuses fails fx.New with that error before anything is built. It provides the provider and the client tagged [Tag](name), the
// Instance in the value group instancesGroup and the check in
// fxgrel.HealthChecksGroup, and invokes the provider so that it always
// starts (a misconfigured server fails the app at start).
func Provide[D, P, C, I any](pkg, name, instancesGroup string, build func(D) (Parts[P, C, I], error)) fx.Option {
	if err := ValidateName(pkg, name); err != nil {
		return fx.Error(err)
	}
	ctor := func(lc fx.Lifecycle, d D) (P, C, I, grelhealth.Check, error) {
		parts, err := build(d)
		if err != nil {
			var zero Parts[P, C, I]
			return zero.Provider, zero.Client, zero.Instance, grelhealth.Check{}, err
		}
		lc.Append(Hook(parts.Start, parts.Stop, parts.Abort))
		return parts.Provider, parts.Client, parts.Instance, parts.Check, nil
	}
	tag := Tag(name)
	return fx.Options(
		fx.Provide(fx.Annotate(ctor, fx.ResultTags(tag, tag,
			`group:"`+instancesGroup+`"`, `group:"`+fxgrel.HealthChecksGroup+`"`))),
		fx.Invoke(fx.Annotate(func(P) {}, fx.ParamTags(tag))),
	)
}

// Hook is the lifecycle hook of one provider instance: start, and when it
// fails, abort (nil: stop within [AbortTimeout]) before returning the
// start's error, since Fx does not stop a hook whose start failed.
func Hook(start, stop func(context.Context) error, abort func(context.Context)) fx.Hook {
	if abort == nil {
		abort = func(ctx context.Context) {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AbortTimeout)
			defer cancel()
			_ = stop(stopCtx)
		}
	}
	return fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := start(ctx); err != nil {
				abort(ctx)
				return err
			}
			return nil
		},
		OnStop: stop,
	}
}

// Backends maps a provider's instances group onto a pattern's backend
// group: for each instance in the value group instancesGroup, build returns
// the instance's name and the backend made on it (adding lifecycle hooks to
// lc if it needs any), offered in backendGroup as an fxbackend.Entry from
// providerName ("grelredis").
func Backends[I, B any](instancesGroup, backendGroup, providerName string, build func(lc fx.Lifecycle, in I) (string, B)) fx.Option {
	return fx.Provide(fx.Annotate(func(lc fx.Lifecycle, instances []I) []fxbackend.Entry[B] {
		out := make([]fxbackend.Entry[B], 0, len(instances))
		for _, in := range instances {
			name, b := build(lc, in)
			out = append(out, fxbackend.Entry[B]{Name: name, Provider: providerName, Backend: b})
		}
		return out
	}, fx.ParamTags(``, `group:"`+instancesGroup+`"`), fx.ResultTags(`group:"`+backendGroup+`,flatten"`)))
}
