package provider

import (
	"errors"
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

func TestFieldSource(t *testing.T) {
	type cfg struct{ Context, Namespace, Identity string }
	spec := grelconfig.NewSpec[cfg]("PROVTEST")
	ctxField := spec.String("CONTEXT", func(c *cfg) *string { return &c.Context }, "")
	nsField := spec.String("NAMESPACE", func(c *cfg) *string { return &c.Namespace }, "")
	idField := spec.String("IDENTITY", func(c *cfg) *string { return &c.Identity }, "")
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_PROVTEST_CONTEXT":           "kind-wide",
		"GREL_PROVTEST_OTHER_NAMESPACE":   "instance",
		"GREL_PROVTEST_DEFAULT_NAMESPACE": "x",
	}))
	if _, err := spec.Resolve(reg, "other", idField.Set("code")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, field string
		origin     grelconfig.Origin
		variable   string
	}{
		{ctxField.Key(), ctxField.Name(), grelconfig.OriginKind, "GREL_PROVTEST_CONTEXT"},
		{nsField.Key(), nsField.Name(), grelconfig.OriginInstance, "GREL_PROVTEST_OTHER_NAMESPACE"},
		{idField.Key(), idField.Name(), grelconfig.OriginOption, ""},
		{"MISSING", "Missing", grelconfig.OriginDefault, ""},
	}
	for _, tt := range tests {
		origin, variable := FieldSource(reg, "PROVTEST", "other", tt.key, tt.field)
		if origin != tt.origin || variable != tt.variable {
			t.Errorf("FieldSource(%s) = %s %q, want %s %q", tt.field, origin, variable, tt.origin, tt.variable)
		}
	}
	err := FieldError(reg, "PROVTEST", "other", ctxField.Key(), ctxField.Name(), "names no context")
	if err.Error() != "grelconfig: GREL_PROVTEST_CONTEXT (Context): names no context" || !errors.Is(err, grelconfig.ErrInvalid) {
		t.Errorf("FieldError = %v", err)
	}
}
