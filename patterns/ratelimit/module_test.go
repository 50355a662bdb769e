package grelratelimit_test

import (
	"context"
	"strings"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func offer(name string, b grelratelimit.Backend) fx.Option {
	return fx.Provide(fx.Annotate(
		func() grelratelimit.NamedBackend {
			return grelratelimit.NamedBackend{Name: name, Provider: "test-" + name, Backend: b}
		},
		fx.ResultTags(`group:"`+grelratelimit.BackendGroup+`"`)))
}

type limiters struct {
	fx.In
	API     *grelratelimit.Limiter `name:"api"`
	Default *grelratelimit.Limiter `optional:"true"`
}

func TestModuleWithoutBackendUsesMemoryAndWarns(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_LIMIT": "7"}))
	var got limiters
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(zap.New(core), reg),
		grelratelimit.Module,
		grelratelimit.Named("api", grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow)),
		grelratelimit.Named(""),
		fx.Populate(&got),
	)
	app.RequireStart()
	if got.API == nil || got.Default == nil {
		t.Fatalf("limiters %+v", got)
	}
	if c := got.API.Config(); c.Algorithm != grelratelimit.SlidingWindow || c.Limit != 7 {
		t.Errorf("api config %+v, want a sliding window of 7 from the registry", c)
	}
	if got.Default.Name() != "" || got.Default.Config().Algorithm != grelratelimit.TokenBucket {
		t.Errorf("the unnamed limiter: %q %+v", got.Default.Name(), got.Default.Config())
	}
	if r, _ := got.API.Allow(context.Background(), "k"); !r.Allowed || r.Limit != 7 {
		t.Errorf("Allow = %+v", r)
	}
	warnings := logs.FilterMessage("no rate limit backend offered: using memory, limits are per process")
	if warnings.Len() != 1 {
		t.Errorf("%d memory warnings, want 1 per backend name: %v", warnings.Len(), logs.All())
	}
	live := reg.Live()
	if len(live) != 2 {
		t.Errorf("registered for reloads while running: %v, want RATELIMIT and RATELIMIT/api", live)
	}
	app.RequireStop()
	if live := reg.Live(); len(live) != 0 {
		t.Errorf("still registered after stop: %v", live)
	}
}

func TestModulePicksTheOfferedBackend(t *testing.T) {
	def, secondary := newFlaky(), newFlaky()
	var got struct {
		fx.In
		A *grelratelimit.Limiter `name:"a"`
		B *grelratelimit.Limiter `name:"b"`
	}
	app := fxtest.New(t, fx.NopLogger,
		grelratelimit.Module,
		offer("", def), offer("secondary", secondary),
		grelratelimit.Named("a"),
		grelratelimit.Named("b", grelratelimit.WithBackendName("secondary")),
		fx.Populate(&got),
	)
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	_, _ = got.A.Allow(ctx, "k")
	_, _ = got.B.Allow(ctx, "k")
	_, _ = got.B.Allow(ctx, "k")
	if def.calls.Load() != 1 || secondary.calls.Load() != 2 {
		t.Errorf("calls: default %d, secondary %d; want 1 and 2", def.calls.Load(), secondary.calls.Load())
	}
}

func TestModuleErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []fx.Option
		want string
	}{
		{"two default backends", []fx.Option{offer("", newFlaky()), offer("", newFlaky())}, "providers offer the default grelratelimit.Backend"},
		{"a bad variable", []fx.Option{
			fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_WINDOW": "1m"}))),
			grelratelimit.Named("api"),
		}, "GREL_RATELIMIT_API_WINDOW"},
		{"an algorithm variable", []fx.Option{
			fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_ALGORITHM": "token_bucket"}))),
			grelratelimit.Named("api"),
		}, "chosen in code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(append([]fx.Option{fx.NopLogger, grelratelimit.Module}, tt.opts...)...)
			if err := app.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("fx.New error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTag(t *testing.T) {
	if got := grelratelimit.Tag("api"); got != `name:"api"` {
		t.Errorf("Tag = %s", got)
	}
}
