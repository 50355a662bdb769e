package grelkube

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/fx"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

// Ready answers ErrNotStarted before Start, ErrStopped after Stop; Start
// after Stop is refused.
func TestLifecycleStates(t *testing.T) {
	env := testenv.Kube(t)
	p, err := New("", WithRegistry(registry(nil)), WithRESTConfig(env.Config))
	if err != nil {
		t.Fatal(err)
	}
	providertest.RequireLifecycle(t, p, ErrNotStarted, ErrStopped)
}

// A name that health check names refuse fails at New, Wrap, Named and
// FromClient, with grelkube's error.
func TestRefusesBadName(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:1"}
	reg := registry(nil)
	providertest.RefusesBadName(t, "grelkube", func(name string) error {
		p, err := New(name, WithRegistry(reg), WithRESTConfig(rc))
		if err == nil {
			_ = p.Stop(context.Background())
		}
		return err
	}, func(name string) fx.Option { return fx.Options(fx.Supply(reg), Named(name, WithRESTConfig(rc))) })
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Wrap(providertest.BadName, cs, rc); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("Wrap = %v, want ErrInvalidName", err)
	}
	app := fx.New(fx.NopLogger, fx.Supply(reg), FromClient(providertest.BadName, cs, rc))
	if err := app.Err(); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("FromClient = %v, want ErrInvalidName", err)
	}
}
