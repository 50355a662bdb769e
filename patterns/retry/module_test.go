package grelretry_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func TestModule(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_RETRY_MAX_ATTEMPTS":          "4",
		"GREL_RETRY_PAYMENTS_MAX_ATTEMPTS": "6",
	}))
	var got struct {
		fx.In
		Default  *grelretry.Retrier
		Payments *grelretry.Retrier `name:"payments"`
	}
	app := fxtest.New(t,
		fx.Supply(reg),
		grelretry.Module,
		grelretry.Named("payments", grelretry.WithAlgorithm(grelretry.Linear)),
		fx.Populate(&got),
	)
	app.RequireStart()
	if got.Default.Config().MaxAttempts != 4 || got.Payments.Config().MaxAttempts != 6 || got.Payments.Config().Algorithm != grelretry.Linear {
		t.Fatalf("default %+v, payments %+v", got.Default.Config(), got.Payments.Config())
	}
	live := fmt.Sprint(reg.Live())
	if !slices.Contains(reg.Live(), grelconfig.Key{Kind: "RETRY", Instance: "payments"}) || !slices.Contains(reg.Live(), grelconfig.Key{Kind: "RETRY"}) {
		t.Fatalf("live = %s", live)
	}
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_RETRY_PAYMENTS_MAX_ATTEMPTS": "2"})); err != nil {
		t.Fatal(err)
	}
	if got.Payments.Config().MaxAttempts != 2 || got.Payments.Config().Algorithm != grelretry.Linear {
		t.Fatalf("after reload %+v", got.Payments.Config())
	}
	app.RequireStop()
	if len(reg.Live()) != 0 {
		t.Fatalf("still registered after stop: %v", reg.Live())
	}
}

func TestModuleErrors(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RETRY_PAYMENTS_MAX_ATTEMPTS": "x"}))
	app := fx.New(fx.NopLogger, fx.Supply(reg), grelretry.Named("payments"))
	if err := app.Err(); err == nil {
		t.Fatal("a bad variable did not fail fx.New")
	}
	app = fx.New(fx.NopLogger, grelretry.Named(""))
	if err := app.Err(); err == nil {
		t.Fatal("Named(\"\") did not fail")
	}
	// Without a registry in the graph, the module still works (it reads the
	// process environment).
	app = fx.New(fx.NopLogger, grelretry.Module, fx.Invoke(func(r *grelretry.Retrier) error {
		return r.Do(context.Background(), func(context.Context) error { return nil })
	}))
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
}
