package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
)

// fake is a provider instance that records its lifecycle.
type fake struct {
	name     string
	startErr error
	events   *[]string
}

type fakeClient struct{ name string }

type fakeInstance struct{ Name string }

type fakeDeps struct {
	fx.In
	Prefix string `name:"prefix" optional:"true"`
}

func provideFake(name string, startErr error, events *[]string, abort func(context.Context)) fx.Option {
	return Provide("greltest", name, "test.instances", func(d fakeDeps) (Parts[*fake, *fakeClient, fakeInstance], error) {
		if name == "broken" {
			return Parts[*fake, *fakeClient, fakeInstance]{}, errors.New("test: bad config")
		}
		p := &fake{name: d.Prefix + name, startErr: startErr, events: events}
		return Parts[*fake, *fakeClient, fakeInstance]{
			Provider: p, Client: &fakeClient{name: p.name}, Instance: fakeInstance{Name: name},
			Check: grelhealth.Check{Name: CheckName("test", name), Func: func(context.Context) error { return nil }},
			Start: func(context.Context) error { *events = append(*events, "start "+p.name); return p.startErr },
			Stop: func(ctx context.Context) error {
				_, hasDeadline := ctx.Deadline()
				*events = append(*events, "stop "+p.name+map[bool]string{true: " (bounded)", false: ""}[hasDeadline])
				return nil
			},
			Abort: abort,
		}, nil
	})
}

func TestProvideDefaultAndNamed(t *testing.T) {
	var events []string
	var g struct {
		fx.In
		Default   *fakeClient
		Other     *fakeClient `name:"other"`
		Provider  *fake
		Instances []fakeInstance     `group:"test.instances"`
		Checks    []grelhealth.Check `group:"grel.health.checks"`
	}
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(fx.Annotate("p-", fx.ResultTags(`name:"prefix"`))),
		provideFake("", nil, &events, nil), provideFake("other", nil, &events, nil),
		fx.Populate(&g))
	app.RequireStart()
	if g.Default.name != "p-" || g.Other.name != "p-other" || g.Provider.name != "p-" {
		t.Errorf("clients %q %q, provider %q: the tags do not match the instances", g.Default.name, g.Other.name, g.Provider.name)
	}
	var names, checks []string
	for _, in := range g.Instances {
		names = append(names, in.Name)
	}
	for _, c := range g.Checks {
		checks = append(checks, c.Name)
	}
	slices.Sort(names)
	slices.Sort(checks)
	if !slices.Equal(names, []string{"", "other"}) || !slices.Equal(checks, []string{"test", "test:other"}) {
		t.Errorf("instances %q, checks %q", names, checks)
	}
	app.RequireStop()
	want := []string{"start p-", "start p-other", "stop p-other (bounded)", "stop p- (bounded)"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

// The provider starts even when nothing asks for it.
func TestProvideAlwaysStarts(t *testing.T) {
	var events []string
	app := fxtest.New(t, fx.NopLogger, provideFake("", nil, &events, nil))
	app.RequireStart()
	app.RequireStop()
	if len(events) != 2 || events[0] != "start " {
		t.Errorf("events %q: the unrequested provider did not start", events)
	}
}

// A name the providers refuse fails fx.New with the provider's error, and
// nothing is built.
func TestProvideRefusesName(t *testing.T) {
	var events []string
	app := fx.New(fx.NopLogger, provideFake("eu west", nil, &events, nil))
	err := app.Err()
	if !errors.Is(err, grelconfig.ErrInvalidName) || !strings.Contains(err.Error(), `greltest: instance name "eu west" is invalid`) || len(events) != 0 {
		t.Fatalf("fx.New = %v, events %q; want the name refused", err, events)
	}
}

func TestProvideBuildError(t *testing.T) {
	var events []string
	app := fx.New(fx.NopLogger, provideFake("broken", nil, &events, nil))
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "test: bad config") || len(events) != 0 {
		t.Fatalf("fx.New = %v, events %q; want the build error", err, events)
	}
}

// A failed start closes the client, since Fx stops only the hooks that
// started: by default within a fresh bound, detached from the start ctx.
func TestProvideFailedStartStops(t *testing.T) {
	down := errors.New("test: down")
	tests := []struct {
		name  string
		abort func(*[]string) func(context.Context)
		want  []string
	}{
		{"default abort", func(*[]string) func(context.Context) { return nil }, []string{"start ", "stop  (bounded)"}},
		{"own abort", func(ev *[]string) func(context.Context) {
			return func(context.Context) { *ev = append(*ev, "abort") }
		}, []string{"start ", "abort"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []string
			app := fx.New(fx.NopLogger, provideFake("", down, &events, tt.abort(&events)))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := app.Start(ctx); !errors.Is(err, down) {
				t.Fatalf("Start = %v, want the start error", err)
			}
			_ = app.Stop(context.Background())
			if !slices.Equal(events, tt.want) {
				t.Errorf("events %q, want %q", events, tt.want)
			}
		})
	}
}

// The default abort's ctx outlives a start ctx that is already done.
func TestHookAbortDetached(t *testing.T) {
	var stopErr error
	h := Hook(func(context.Context) error { return errors.New("test: down") },
		func(ctx context.Context) error { stopErr = ctx.Err(); return nil }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.OnStart(ctx); err == nil {
		t.Fatal("OnStart hid the start error")
	}
	if stopErr != nil {
		t.Fatalf("the abort's Stop ran with a done ctx: %v", stopErr)
	}
}

type fakeBackend interface{ Kind() string }

type backendOf struct{ on string }

func (b backendOf) Kind() string { return b.on }

func TestBackends(t *testing.T) {
	var hooks int
	var got struct {
		fx.In
		Entries []fxbackend.Entry[fakeBackend] `group:"test.backends"`
	}
	app := fxtest.New(t, fx.NopLogger,
		fx.Provide(
			fx.Annotate(func() fakeInstance { return fakeInstance{Name: ""} }, fx.ResultTags(`group:"test.instances"`)),
			fx.Annotate(func() fakeInstance { return fakeInstance{Name: "cache"} }, fx.ResultTags(`group:"test.instances"`)),
		),
		Backends("test.instances", "test.backends", "greltest", func(lc fx.Lifecycle, in fakeInstance) (string, fakeBackend) {
			lc.Append(fx.StartHook(func() { hooks++ }))
			return in.Name, backendOf{on: "on " + in.Name}
		}),
		fx.Populate(&got))
	app.RequireStart()
	app.RequireStop()
	var seen []string
	for _, e := range got.Entries {
		if e.Provider != "greltest" || e.Backend.Kind() != "on "+e.Name {
			t.Errorf("entry %+v", e)
		}
		seen = append(seen, e.Name)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"", "cache"}) || hooks != 2 {
		t.Errorf("entries %q, hooks %d; want one entry and one hook per instance", seen, hooks)
	}
}
