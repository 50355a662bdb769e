package grelkube

import (
	"context"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"k8s.io/client-go/kubernetes"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestModuleDefaultAndNamed(t *testing.T) {
	env := testenv.Kube(t)
	other := testenv.Kube(t)
	reg := registry(map[string]string{
		"KUBECONFIG":                env.Kubeconfig,
		"GREL_KUBE_NAMESPACE":       env.Namespace,
		"GREL_KUBE_OTHER_NAMESPACE": other.Namespace,
		"POD_NAME":                  "pod-a",
	})
	var g struct {
		fx.In
		Default   kubernetes.Interface
		Other     kubernetes.Interface `name:"other"`
		Provider  *Provider
		OtherP    *Provider          `name:"other"`
		Instances []Instance         `group:"grel.kube.instances"`
		Checks    []grelhealth.Check `group:"grel.health.checks"`
	}
	app := fxtest.New(t, fx.NopLogger, fx.Supply(reg), Module, Named("other"), fx.Populate(&g))
	app.RequireStart()
	if g.Default == nil || g.Other == nil || g.Default == g.Other || g.Provider.Client() != g.Default {
		t.Fatal("default and named clients must both resolve and differ")
	}
	createLease(t, g.Provider, "default-lease")
	createLease(t, g.OtherP, "other-lease")
	ns := map[string]string{}
	for _, in := range g.Instances {
		ns[in.Name] = in.Namespace
		if in.Identity != "pod-a" {
			t.Errorf("instance %q identity %q", in.Name, in.Identity)
		}
	}
	if ns[""] != env.Namespace || ns["other"] != other.Namespace || len(ns) != 2 {
		t.Fatalf("instances = %v", ns)
	}
	providertest.RequireChecks(t, g.Checks, "kube", "kube:other")
	app.RequireStop()
}

func TestModuleFromClient(t *testing.T) {
	env := testenv.Kube(t)
	owner, err := New("", WithRegistry(registry(nil)), WithRESTConfig(env.Config))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, owner)
	var got kubernetes.Interface
	app := fxtest.New(t, fx.NopLogger, fx.Supply(registry(nil)), FromClient("", owner.Client(), env.Config, WithNamespace(env.Namespace)), fx.Populate(&got))
	app.RequireStart()
	app.RequireStop()
	if got != owner.Client() {
		t.Fatal("FromClient does not provide the app's client")
	}
	if err := owner.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = owner.Stop(context.Background())
}
