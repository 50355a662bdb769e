package grelredis

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

type graph struct {
	fx.In
	Default   redis.UniversalClient
	Cache     redis.UniversalClient `name:"cache"`
	Provider  *Provider
	Instances []Instance         `group:"grel.redis.instances"`
	Checks    []grelhealth.Check `group:"grel.health.checks"`
}

func TestModuleDefaultAndNamed(t *testing.T) {
	env := testenv.Redis(t)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"REDIS_URL":       env.URL,
		"REDIS_CACHE_URL": strings.TrimSuffix(env.URL, "/0") + "/1",
	}))
	var g graph
	app := fxtest.New(t, fx.NopLogger, fx.Supply(reg), Module, Named("cache"), fx.Populate(&g))
	app.RequireStart()
	if g.Default == nil || g.Cache == nil || g.Default == g.Cache {
		t.Fatalf("default %p and named %p must both resolve and differ", g.Default, g.Cache)
	}
	if g.Provider.Client() != g.Default {
		t.Error("the untagged *Provider does not own the untagged client")
	}
	var names []string
	for _, in := range g.Instances {
		names = append(names, in.Name)
		want := g.Default
		if in.Name == "cache" {
			want = g.Cache
		}
		if in.Client != want {
			t.Errorf("instance %q carries the wrong client", in.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"", "cache"}) {
		t.Errorf("instances = %q", names)
	}
	providertest.RequireChecks(t, g.Checks, "redis", "redis:cache")
	ctx := context.Background()
	key := env.Prefix + "db"
	if err := g.Cache.Set(ctx, key, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Default.Exists(ctx, key).Result(); n != 0 {
		t.Error("the named instance writes to the default's database")
	}
	g.Cache.Del(ctx, key)
	app.RequireStop()
	for _, c := range []redis.UniversalClient{g.Default, g.Cache} {
		if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Errorf("client not closed on stop: %v", err)
		}
	}
}

func TestModuleFromClient(t *testing.T) {
	env := testenv.Redis(t)
	opts, _ := redis.ParseURL(env.URL)
	mine := redis.NewClient(opts)
	defer mine.Close()
	var g struct {
		fx.In
		Client    redis.UniversalClient
		Instances []Instance `group:"grel.redis.instances"`
	}
	app := fxtest.New(t, fx.NopLogger, FromClient("", mine), fx.Populate(&g))
	app.RequireStart()
	if g.Client != mine || len(g.Instances) != 1 || g.Instances[0].Client != mine {
		t.Fatal("FromClient does not provide the app's client")
	}
	app.RequireStop()
	if err := mine.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the app's client was closed: %v", err)
	}
}

func TestModuleDownAtStart(t *testing.T) {
	addr := providertest.SilentServer(t)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"REDIS_URL": "redis://:hunter2@" + addr + "/0"}))
	providertest.ModuleDownAtStart(t, ErrUnavailable, "hunter2", addr, fx.Supply(reg), Module)
}

func TestModuleConfigError(t *testing.T) {
	app := fx.New(fx.NopLogger, fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))), Named("sessions"))
	err := app.Err()
	if err == nil || !strings.Contains(err.Error(), "REDIS_SESSIONS_URL") {
		t.Fatalf("fx.New error = %v, want one naming REDIS_SESSIONS_URL", err)
	}
}

func TestTag(t *testing.T) {
	if Tag("") != "" || Tag("cart") != `name:"cart"` || Tag(`a"b`) != `name:"a\"b"` {
		t.Fatalf("Tag: %q %q %q", Tag(""), Tag("cart"), Tag(`a"b`))
	}
}

// With fxgrel.Module the provider reads its URL through the app's registry,
// logs through the app's logger and traces through the app's tracer.
func TestModuleWithFxgrel(t *testing.T) {
	env := testenv.Redis(t)
	var g struct {
		fx.In
		Client   redis.UniversalClient
		Registry *grelconfig.Registry
		Logs     *observer.ObservedLogs
		Spans    *tracetest.SpanRecorder
	}
	fxgreltest.Start(t, map[string]string{"REDIS_URL": env.URL}, Module, fx.Populate(&g))
	if err := g.Client.Set(context.Background(), env.Prefix+"fx", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if len(g.Logs.FilterMessage("redis connected").FilterField(zap.String("backend", "redis")).All()) != 1 {
		t.Errorf("no connect log; logs: %v", g.Logs.All())
	}
	var traced bool
	for _, s := range g.Spans.Ended() {
		traced = traced || s.Name() == "set"
	}
	if !traced {
		t.Error("the app's tracer provider did not trace the client")
	}
	var described bool
	for _, e := range g.Registry.Describe() {
		described = described || (e.Variable == "REDIS_URL" && e.Origin == grelconfig.OriginEnv)
	}
	if !described {
		t.Error("describe does not list REDIS_URL")
	}
}
