package provider

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

type testOptions struct {
	Options
	url string
}

type testOption func(*testOptions)

func TestOptions(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(nil))
	core, logs := observer.New(zap.DebugLevel)
	l := zap.New(core)
	o := testOptions{Options: Defaults()}
	if o.Log == nil || o.Registry != nil || o.NonCritical {
		t.Fatalf("Defaults() = %+v", o.Options)
	}
	Apply(&o, []testOption{
		func(o *testOptions) { o.SetRegistry(reg) },
		nil,
		func(o *testOptions) { o.SetLogger(l) },
		func(o *testOptions) { o.SetRegistry(nil); o.SetLogger(nil) }, // nil keeps what was set
		func(o *testOptions) { o.url = "x" },
	})
	if o.Registry != reg || o.Log != l || o.url != "x" {
		t.Fatalf("after Apply: %+v", o)
	}
	if o.RegistryOrEnv() != reg {
		t.Error("RegistryOrEnv replaced the given registry")
	}
	if (&Options{}).RegistryOrEnv() == nil {
		t.Error("RegistryOrEnv without a registry returned nil")
	}
	o.InstanceLog("redis", "cache").Info("hello")
	entries := logs.All()
	if len(entries) != 1 || entries[0].ContextMap()["backend"] != "redis" || entries[0].ContextMap()["name"] != "cache" {
		t.Errorf("InstanceLog entries: %+v", entries)
	}
}
