package grelhealth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
)

func TestGroupNames(t *testing.T) {
	if grelhealth.ChecksGroup != fxgrel.HealthChecksGroup {
		t.Fatalf("grelhealth.ChecksGroup %q != fxgrel.HealthChecksGroup %q", grelhealth.ChecksGroup, fxgrel.HealthChecksGroup)
	}
}

// provider stands for a Provider contributing its check the way providers
// do: a constructor whose result is tagged with the group.
func provider(name string, err error) fx.Option {
	return fx.Provide(fx.Annotate(func() grelhealth.Check {
		return grelhealth.Check{Name: name, Func: func(context.Context) error { return err }}
	}, fx.ResultTags(`group:"`+fxgrel.HealthChecksGroup+`"`)))
}

func registry(env map[string]string) fx.Option {
	return fx.Supply(grelconfig.NewRegistry(grelconfig.Map(env)))
}

func TestModule(t *testing.T) {
	var h *grelhealth.Handler
	var changes atomic.Int64
	app := fxtest.New(t,
		registry(map[string]string{"GREL_HEALTH_TTL": "0", "GREL_HEALTH_TIMEOUT": "2s"}),
		grelhealth.Module,
		provider("redis", nil),
		provider("postgres", errors.New("refused")),
		grelhealth.Supply(grelhealth.Check{Name: "app", Func: pass, NonCritical: true}),
		grelhealth.SupplyOptions(grelhealth.WithStatusListener(func(grelhealth.StatusChange) { changes.Add(1) })),
		fx.Supply(grelhealth.Authorizer(func(r *http.Request) bool { return r.Header.Get("X-Ops") == "yes" })),
		fx.Populate(&h),
	)
	app.RequireStart()
	defer app.RequireStop()
	c := h.Checker()
	if got := strings.Join(c.Names(), ","); got != "app,postgres,redis" {
		t.Fatalf("registered checks = %s", got)
	}
	if cfg := c.Config(); cfg.TTL != 0 || cfg.Timeout != 2*time.Second {
		t.Fatalf("Config = %+v: the registry was not used", cfg)
	}
	m := mux(h)
	if rec := serve(m, http.MethodGet, "/readyz"); rec.Code != 503 {
		t.Fatalf("/readyz = %d", rec.Code)
	}
	if rec := serve(m, http.MethodGet, "/readyz?exclude=postgres"); rec.Code != 200 {
		t.Fatalf("/readyz?exclude=postgres = %d", rec.Code)
	}
	if rec := serve(m, http.MethodGet, "/healthz", "X-Ops", "yes"); !strings.Contains(rec.Body.String(), `"error":"refused"`) {
		t.Fatalf("the Fx authorizer was not used: %s", rec.Body)
	}
	if changes.Load() == 0 {
		t.Fatal("the Fx status listener was not called")
	}
}

func TestModuleErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []fx.Option
		want []string // substrings of the error
	}{
		{"duplicate", []fx.Option{provider("redis", nil), provider("redis", nil)}, []string{`grelhealth: check "redis": registered twice`}},
		{"invalid", []fx.Option{provider("a b", nil)}, []string{`grelhealth: check "a b": Name must be`}},
		{"bad env", []fx.Option{registry(map[string]string{"GREL_HEALTH_TTL": "soon"})}, []string{"grelconfig: GREL_HEALTH_TTL (", "): not a valid duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(append(tt.opts, grelhealth.Module, fx.NopLogger)...)
			err := app.Err()
			if err == nil {
				t.Fatalf("fx.New succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("fx.New error = %v, want %q", err, w)
				}
			}
		})
	}
}

func TestModuleWithoutFxgrel(t *testing.T) {
	// No registry, no logger in the graph: the module still works.
	var c *grelhealth.Checker
	app := fxtest.New(t, grelhealth.Module, fx.Populate(&c))
	app.RequireStart().RequireStop()
	if c == nil {
		t.Fatal("no checker")
	}
}

func TestModuleBackgroundRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		app := fxtest.New(t,
			registry(map[string]string{"GREL_HEALTH_INTERVAL": "1s"}),
			grelhealth.Module,
			grelhealth.Supply(grelhealth.Check{Name: "db", Func: func(context.Context) error { calls.Add(1); return nil }}),
		)
		app.RequireStart()
		time.Sleep(2500 * time.Millisecond)
		app.RequireStop()
		if n := calls.Load(); n != 3 {
			t.Fatalf("%d background runs in 2.5s, want 3 (at 0, 1s, 2s)", n)
		}
	})
}

// server stands for an HTTP server that mounts the health endpoints and
// appends its own hook in its constructor, the way Fx servers do. Its OnStop
// records what it saw.
type server struct {
	h          *grelhealth.Handler
	stopAt     time.Time
	readyzCode int
	draining   bool
	checkerErr error // a check run when the server stops: the checker must still be up
}

func newServer(lc fx.Lifecycle, h *grelhealth.Handler) *server {
	s := &server{h: h}
	m := mux(h)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { return nil },
		OnStop: func(ctx context.Context) error {
			s.stopAt = time.Now()
			s.readyzCode = serve(m, http.MethodGet, "/readyz").Code
			s.draining = h.Checker().Draining()
			res, err := h.Checker().Check(ctx, "db")
			s.checkerErr = errors.Join(err, res.Err)
			return nil
		},
	})
	return s
}

// TestDrainOrderOnStop: on stop, /readyz turns 503 first, the drain delay
// passes, then the server stops, then the checker. Fx runs OnStop hooks in
// the reverse order of OnStart; the server here is built after the checker
// (it depends on the handler), so only DrainGroup puts the drain before it.
func TestDrainOrderOnStop(t *testing.T) {
	tests := []struct {
		name         string
		inGroup      bool
		wantWait     time.Duration // from the start of stop to the server's stop
		wantReadyz   int
		wantDraining bool
	}{
		{"server in DrainGroup stops after the drain", true, 3 * time.Second, 503, true},
		// Without the group Fx's rule applies: the server was started
		// after the health module, so it stops before the drain hook runs.
		// docs/health.md says so; this row pins it.
		{"server outside DrainGroup stops first", false, 0, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s *server
				opts := []fx.Option{
					registry(map[string]string{"GREL_HEALTH_DRAIN_DELAY": "3s"}),
					grelhealth.Module,
					grelhealth.Supply(grelhealth.Check{Name: "db", Func: pass}),
					fx.Provide(newServer),
					fx.Populate(&s),
				}
				if tt.inGroup {
					opts = append(opts, grelhealth.StopAfterDrain[*server]())
				}
				app := fxtest.New(t, opts...)
				app.RequireStart()
				if rec := serve(mux(s.h), http.MethodGet, "/readyz"); rec.Code != 200 {
					t.Fatalf("/readyz before stop = %d", rec.Code)
				}
				start := time.Now()
				app.RequireStop()
				if got := s.stopAt.Sub(start); got != tt.wantWait {
					t.Errorf("the server stopped %v after stop began, want %v", got, tt.wantWait)
				}
				if s.readyzCode != tt.wantReadyz || s.draining != tt.wantDraining {
					t.Errorf("at the server's stop: /readyz %d, draining %v; want %d, %v", s.readyzCode, s.draining, tt.wantReadyz, tt.wantDraining)
				}
				if s.checkerErr != nil {
					t.Errorf("the checker stopped before the server: %v", s.checkerErr)
				}
				if tt.inGroup && time.Since(start) != tt.wantWait {
					t.Errorf("stop took %v", time.Since(start))
				}
			})
		})
	}
}

// TestDrainLongerThanStopTimeout: a drain delay above the app's stop timeout
// no longer breaks the stop. The drain is cut (with a warning) so that the
// server, the checker and the hooks appended before them (providers,
// telemetry) still stop, and app.Stop returns nil within the timeout.
func TestDrainLongerThanStopTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := observed(zapcore.InfoLevel)
		var s *server
		var c *grelhealth.Checker
		var providerStopped time.Duration
		start := time.Now()
		app := fxtest.New(t,
			fx.Supply(log),
			// A provider: its check is built before the checker, so its
			// hook is appended before the checker's and stops after it.
			fx.Provide(fx.Annotate(func(lc fx.Lifecycle) grelhealth.Check {
				lc.Append(fx.StopHook(func() { providerStopped = time.Since(start) }))
				return grelhealth.Check{Name: "db", Func: pass}
			}, fx.ResultTags(`group:"`+grelhealth.ChecksGroup+`"`))),
			registry(map[string]string{"GREL_HEALTH_DRAIN_DELAY": "6s"}),
			grelhealth.Module,
			fx.Provide(newServer),
			grelhealth.StopAfterDrain[*server](),
			fx.Populate(&s, &c),
			fx.StopTimeout(5*time.Second),
		)
		app.RequireStart()
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v, want a clean stop", err)
		}
		// 5s left at the drain: it keeps min(2.5s, DrainReserve) = 2s.
		if got := s.stopAt.Sub(start); got != 3*time.Second || s.readyzCode != 503 || s.checkerErr != nil {
			t.Errorf("server stop at %v, /readyz %d, checker %v; want at 3s, 503, still up", got, s.readyzCode, s.checkerErr)
		}
		if providerStopped != 3*time.Second {
			t.Errorf("the provider stopped at %v, want 3s (its hook must run)", providerStopped)
		}
		if err := c.Start(t.Context()); !errors.Is(err, grelhealth.ErrStopped) {
			t.Errorf("the checker did not stop: Start = %v", err)
		}
		if n := logs.FilterMessageSnippet("drain cut short").FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
			t.Errorf("%d cut-short warnings, want 1", n)
		}
	})
}
