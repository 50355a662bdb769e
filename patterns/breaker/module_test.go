package grelbreaker_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestModule(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_BREAKER_PAYMENTS_FAILURE_THRESHOLD": "2"}))
	core, logs := observer.New(zapcore.InfoLevel)
	rec := &recorder{}
	var got struct {
		fx.In
		Payments *grelbreaker.Breaker `name:"payments"`
		Hosts    *grelbreaker.Group   `name:"hosts"`
	}
	app := fxtest.New(t,
		fx.Supply(reg, zap.New(core)),
		grelbreaker.Module,
		grelbreaker.Named("payments", grelbreaker.WithOnStateChange(rec.listen)),
		grelbreaker.NamedGroup("hosts"),
		fx.Populate(&got),
	)
	app.RequireStart()
	if got.Payments.Config().FailureThreshold != 2 {
		t.Fatalf("config %+v", got.Payments.Config())
	}
	if rec.transitions() != "start:closed" {
		t.Fatalf("initial state not announced at start: %q", rec.transitions())
	}
	live := reg.Live()
	if !slices.Contains(live, grelconfig.Key{Kind: "BREAKER", Instance: "payments"}) || !slices.Contains(live, grelconfig.Key{Kind: "BREAKER", Instance: "hosts"}) {
		t.Fatalf("live %v", live)
	}
	if w := logs.FilterMessage("no breaker backend offered: using memory, breaker state is local to this process").All(); len(w) != 1 {
		t.Fatalf("memory fallback warnings: %v", w)
	}
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_BREAKER_FAILURE_THRESHOLD": "9"})); err != nil {
		t.Fatal(err)
	}
	if got.Payments.Config().FailureThreshold != 9 || got.Hosts.Config().FailureThreshold != 9 {
		t.Fatal("reload did not reach the instances")
	}
	app.RequireStop()
	if len(reg.Live()) != 0 {
		t.Fatalf("still live after stop: %v", reg.Live())
	}
}

func TestModulePicksTheOfferedBackend(t *testing.T) {
	st := newStore()
	var b *grelbreaker.Breaker
	app := fxtest.New(t,
		grelbreaker.Module,
		fx.Supply(fx.Annotate(grelbreaker.NamedBackend{Name: "", Provider: "teststore", Backend: st}, fx.ResultTags(`group:"`+grelbreaker.BackendGroup+`"`))),
		grelbreaker.Named("payments"),
		fx.Populate(fx.Annotate(&b, fx.ParamTags(grelbreaker.Tag("payments")))),
	)
	app.RequireStart()
	defer app.RequireStop()
	if err := b.Execute(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	if st.count("load") != 1 || st.count("record") != 1 {
		t.Fatalf("the offered backend was not used: %v", st.ops)
	}
}

func TestModuleRefusesTwoDefaultBackends(t *testing.T) {
	group := fx.ResultTags(`group:"` + grelbreaker.BackendGroup + `"`)
	app := fx.New(fx.NopLogger,
		grelbreaker.Module,
		fx.Provide(fx.Annotate(func() grelbreaker.NamedBackend {
			return grelbreaker.NamedBackend{Provider: "grelredis", Backend: grelbreaker.NewMemory()}
		}, group)),
		fx.Provide(fx.Annotate(func() grelbreaker.NamedBackend {
			return grelbreaker.NamedBackend{Provider: "grelpostgres", Backend: grelbreaker.NewMemory()}
		}, group)),
	)
	err := app.Err()
	if err == nil || !strings.Contains(err.Error(), "2 providers offer the default grelbreaker.Backend") {
		t.Fatalf("err %v", err)
	}
	if err := fx.New(fx.NopLogger, grelbreaker.Module, grelbreaker.Named("")).Err(); err == nil {
		t.Fatal("Named(\"\") accepted")
	}
}
