package fxinstance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// opt records, in order, which option ran.
type opt func(*[]string)

func named(s string) opt { return func(got *[]string) { *got = append(*got, s) } }

var all = Options[opt]{
	Logger:         func(*zap.Logger) opt { return named("logger") },
	Registry:       func(*grelconfig.Registry) opt { return named("registry") },
	TracerProvider: func(trace.TracerProvider) opt { return named("tracer") },
	MeterProvider:  func(metric.MeterProvider) opt { return named("meter") },
}

func TestPrepend(t *testing.T) {
	full := App{Logger: zap.NewNop(), Registry: grelconfig.NewRegistry(grelconfig.Map(nil)),
		TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}
	tests := []struct {
		name string
		with Options[opt]
		app  App
		want string
	}{
		{name: "every value, before the caller's", with: all, app: full, want: "logger registry tracer meter caller"},
		{name: "an empty app gives nothing", with: all, app: App{}, want: "caller"},
		{name: "only what the app has", with: all, app: App{Registry: full.Registry, MeterProvider: full.MeterProvider}, want: "registry meter caller"},
		{name: "only what the pattern takes", with: Options[opt]{Logger: all.Logger, Registry: all.Registry}, app: full, want: "logger registry caller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, o := range tt.with.Prepend(tt.app, []opt{named("caller")}) {
				o(&got)
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("options ran %q, want %q", s, tt.want)
			}
		})
	}
}

// lifecycle keeps the hooks appended to it.
type lifecycle struct{ hooks []fx.Hook }

func (l *lifecycle) Append(h fx.Hook) { l.hooks = append(l.hooks, h) }

type reloadable struct{ key grelconfig.Key }

func (r reloadable) ConfigKey() grelconfig.Key             { return r.key }
func (r reloadable) Reload(reg *grelconfig.Registry) error { return nil }

func TestRegister(t *testing.T) {
	errStart, errStop := errors.New("start failed"), errors.New("stop failed")
	tests := []struct {
		name        string
		reg         bool
		start, stop error // returned by the instance's start and stop
		noStart     bool  // start is nil
		noStop      bool  // stop is nil
		hooks       int
		live        bool // registered between start and stop
	}{
		{name: "nothing to do: no hook", noStart: true, noStop: true},
		{name: "registry only", reg: true, noStart: true, noStop: true, hooks: 1, live: true},
		{name: "stop only", noStart: true, hooks: 1},
		{name: "registry, start and stop", reg: true, hooks: 1, live: true},
		{name: "start and stop errors come back", reg: true, start: errStart, stop: errStop, hooks: 1, live: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reg *grelconfig.Registry
			if tt.reg {
				reg = grelconfig.NewRegistry(grelconfig.Map(nil))
			}
			var ran []string
			var start, stop func(context.Context) error
			if !tt.noStart {
				start = func(context.Context) error { ran = append(ran, "start"); return tt.start }
			}
			if !tt.noStop {
				stop = func(context.Context) error { ran = append(ran, "stop"); return tt.stop }
			}
			lc := &lifecycle{}
			r := reloadable{key: grelconfig.Key{Kind: "TEST", Instance: "a"}}
			Register(lc, reg, r, start, stop)
			if len(lc.hooks) != tt.hooks {
				t.Fatalf("%d hooks, want %d", len(lc.hooks), tt.hooks)
			}
			if tt.hooks == 0 {
				return
			}
			h := lc.hooks[0]
			if err := h.OnStart(t.Context()); !errors.Is(err, tt.start) || (tt.start == nil) != (err == nil) {
				t.Fatalf("OnStart: %v, want %v", err, tt.start)
			}
			if reg != nil {
				if got := reg.Live(); tt.live != slices.Contains(got, r.key) {
					t.Fatalf("after start, live = %v", got)
				}
			}
			if err := h.OnStop(t.Context()); !errors.Is(err, tt.stop) || (tt.stop == nil) != (err == nil) {
				t.Fatalf("OnStop: %v, want %v", err, tt.stop)
			}
			if reg != nil && len(reg.Live()) != 0 {
				t.Fatalf("after stop, live = %v", reg.Live())
			}
			var want []string
			if !tt.noStart {
				want = append(want, "start")
			}
			if !tt.noStop {
				want = append(want, "stop")
			}
			if !slices.Equal(ran, want) {
				t.Fatalf("ran %v, want %v", ran, want)
			}
		})
	}
}

// TestRegisterFx runs the hook in a real Fx lifecycle.
func TestRegisterFx(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(nil))
	r := reloadable{key: grelconfig.Key{Kind: "TEST", Instance: "fx"}}
	lc := fxtest.NewLifecycle(t)
	Register(lc, reg, r, nil, nil)
	lc.RequireStart()
	if got := reg.Live(); !slices.Equal(got, []grelconfig.Key{r.key}) {
		t.Fatalf("live after start = %v", got)
	}
	lc.RequireStop()
	if got := reg.Live(); len(got) != 0 {
		t.Fatalf("live after stop = %v", got)
	}
}
