package grellock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type lockParams struct {
	fx.In
	Cart     *grellock.Lock           `name:"cart"`
	Cart2    *grellock.Lock           `name:"cart2"`
	Task     *grellock.TaskLock       `name:"report"`
	CartTask *grellock.TaskLock       `name:"cart"`
	Election *grellock.LeaderElection `name:"leader"`
}

func provideBackend(name, provider string, b grellock.Backend) fx.Option {
	return fx.Provide(fx.Annotate(func() grellock.NamedBackend {
		return grellock.NamedBackend{Name: name, Provider: provider, Backend: b}
	}, fx.ResultTags(`group:"`+grellock.BackendGroup+`"`)))
}

// Without any Backend every instance shares one memory backend, with a
// warning; elections start with the app and release their lease on stop;
// holds are released on stop; instances register with the registry while
// the app runs.
func TestModuleMemoryFallbackAndLifecycle(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LEADERELECTION_RETRY_INTERVAL": "10ms", "GREL_LEADERELECTION_RENEW_DEADLINE": "1s"}))
	var p lockParams
	app := fxtest.New(t,
		fx.Supply(zap.New(core), reg),
		grellock.Module,
		grellock.Named("cart"),
		grellock.Named("cart2"),
		grellock.NamedTaskLock("report"),
		grellock.NamedTaskLock("cart"),
		grellock.NamedElection("leader"),
		fx.Populate(&p),
	)
	app.RequireStart()
	ctx := context.Background()
	if logs.FilterMessageSnippet("using memory").Len() == 0 {
		t.Error("no warning about the memory fallback")
	}
	keys := map[string]bool{}
	for _, k := range reg.Live() {
		keys[k.String()] = true
	}
	for _, want := range []string{"LOCK/cart", "LOCK/cart2", "TASKLOCK/report", "LEADERELECTION/leader"} {
		if !keys[want] {
			t.Errorf("%s not registered while running (live: %v)", want, reg.Live())
		}
	}
	// Every instance shares one memory backend: the task lock named "cart"
	// is excluded by the lock named "cart" (one key space), "cart2" is not.
	h, err := p.Cart.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CartTask.Run(ctx, func(context.Context) error { return nil }); !errors.Is(err, grellock.ErrNotAcquired) {
		t.Errorf("the fallback memory backend is not shared: %v", err)
	}
	h2, err := p.Cart2.TryAcquire(ctx)
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !p.Election.IsLeader() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !p.Election.IsLeader() {
		t.Fatal("the election did not lead after start")
	}
	app.RequireStop()
	if h.Held() || h2.Held() {
		t.Error("a hold survived the app's stop")
	}
	if rec, _ := p.Election.Leader(ctx); rec.Holder != "" {
		t.Errorf("the election's lease was not released on stop: %+v", rec)
	}
	if len(reg.Live()) != 0 {
		t.Errorf("instances still registered after stop: %v", reg.Live())
	}
}

// An instance picks the Backend offered under its WithBackendName.
func TestModuleBackendByName(t *testing.T) {
	primary, secondary := grellock.NewMemory(), grellock.NewMemory()
	var p struct {
		fx.In
		A *grellock.Lock `name:"a"`
		B *grellock.Lock `name:"b"`
	}
	app := fxtest.New(t,
		provideBackend("", "primary-provider", primary),
		provideBackend("secondary", "secondary-provider", secondary),
		grellock.Module,
		grellock.Named("a"),
		grellock.Named("b", grellock.WithBackendName("secondary")),
		fx.Populate(&p),
	)
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	ha, _ := p.A.TryAcquire(ctx)
	hb, _ := p.B.TryAcquire(ctx)
	if rec, _ := primary.Get(ctx, "a"); rec.Token != ha.Token() {
		t.Error("the default instance does not use the default backend")
	}
	if rec, _ := secondary.Get(ctx, "b"); rec.Token != hb.Token() {
		t.Error("WithBackendName(secondary) does not use the secondary backend")
	}
}

func TestModuleErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []fx.Option
		want string
	}{
		{"two default backends", []fx.Option{
			provideBackend("", "grelredis", grellock.NewMemory()),
			provideBackend("", "grelpostgres", grellock.NewMemory()),
			grellock.Module,
		}, "give the others a name"},
		{"option for another pattern", []fx.Option{grellock.Module, grellock.NamedTaskLock("report", grellock.WithAutoRenew(true)),
			fx.Invoke(fx.Annotate(func(*grellock.TaskLock) {}, fx.ParamTags(grellock.Tag("report"))))}, "WithAutoRenew does not apply to a TaskLock"},
		{"bad variable", []fx.Option{fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LEADERELECTION_LEADER_RENEW_DEADLINE": "30s"}))),
			grellock.Module, grellock.NamedElection("leader")}, "LeaseDuration must be greater than RenewDeadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := fx.New(append([]fx.Option{fx.NopLogger}, tc.opts...)...)
			err := app.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("fx.New error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
