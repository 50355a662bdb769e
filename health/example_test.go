package grelhealth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"go.uber.org/fx"
)

func Example() {
	c, err := grelhealth.New(
		grelhealth.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))), // tests pass a map; apps the environment
		grelhealth.WithTimeout(2*time.Second),
	)
	if err != nil {
		panic(err)
	}
	defer func() { _ = c.Stop(context.Background()) }()
	_ = c.Register(grelhealth.Check{Name: "db", Func: func(ctx context.Context) error { return nil }})
	_ = c.Register(grelhealth.Check{Name: "search", NonCritical: true, Func: func(ctx context.Context) error {
		return errors.New("connection refused")
	}})

	rep, _ := c.Report(context.Background(), grelhealth.ScopeAll)
	fmt.Println("status:", rep.Status)
	for _, r := range rep.Checks {
		fmt.Println(r.Name, r.Status, r.Err)
	}
	ready, _ := c.Ready(context.Background())
	fmt.Println("ready:", ready)
	// Output:
	// status: warn
	// db pass <nil>
	// search fail connection refused
	// ready: true
}

func ExampleHandler_Mount() {
	c, _ := grelhealth.NewFromConfig(grelhealth.DefaultConfig())
	defer func() { _ = c.Stop(context.Background()) }()
	_ = c.Register(grelhealth.Check{Name: "db", Func: func(context.Context) error { return errors.New("refused") }})

	mux := http.NewServeMux()
	grelhealth.NewHandler(c).Mount(mux)

	for _, target := range []string{"/livez", "/readyz", "/readyz/db", "/readyz/nope", "/readyz?exclude=db,nope"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(target, rec.Code, rec.Header().Values("Warning"))
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
	fmt.Print(rec.Body)
	// Output:
	// /livez 200 []
	// /readyz 503 []
	// /readyz/db 503 []
	// /readyz/nope 404 []
	// /readyz?exclude=db,nope 200 [299 - "grelhealth: unknown check in exclude: nope"]
	// [-]db failed: reason withheld
	// readyz check failed
}

func ExampleWithAuthorizer() {
	c, _ := grelhealth.NewFromConfig(grelhealth.DefaultConfig())
	defer func() { _ = c.Stop(context.Background()) }()
	_ = c.Register(grelhealth.Check{Name: "db", Func: func(context.Context) error { return errors.New("refused") }})
	h := grelhealth.NewHandler(c, grelhealth.WithAuthorizer(grelhealth.BearerToken("ops-token")))

	for _, auth := range []string{"", "Bearer ops-token"} {
		req := httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.Readyz().ServeHTTP(rec, req)
		fmt.Print(rec.Body)
	}
	// Output:
	// [-]db failed: reason withheld
	// readyz check failed
	// [-]db failed: refused
	// readyz check failed
}

func ExampleChecker_Drain() {
	c, _ := grelhealth.NewFromConfig(grelhealth.DefaultConfig(), grelhealth.WithDrainDelay(10*time.Millisecond))
	defer func() { _ = c.Stop(context.Background()) }()
	h := grelhealth.NewHandler(c)
	code := func() int {
		rec := httptest.NewRecorder()
		h.Readyz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	fmt.Println("before:", code())
	_ = c.Drain(context.Background()) // flips readiness, then waits the drain delay
	fmt.Println("after:", code())
	// then: server.Shutdown(ctx)
	// Output:
	// before: 200
	// after: 503
}

func ExampleWithStatusListener() {
	up := true
	c, _ := grelhealth.NewFromConfig(grelhealth.DefaultConfig(), grelhealth.WithTTL(0),
		grelhealth.WithStatusListener(func(ch grelhealth.StatusChange) {
			fmt.Printf("%s: %s -> %s\n", ch.Name, ch.Previous, ch.Result.Status)
		}))
	defer func() { _ = c.Stop(context.Background()) }()
	_ = c.Register(grelhealth.Check{Name: "db", Func: func(context.Context) error {
		if up {
			return nil
		}
		return errors.New("down")
	}})
	_, _ = c.Check(context.Background(), "db")
	up = false
	_, _ = c.Check(context.Background(), "db")
	// Output:
	// db: unknown -> pass
	// db: pass -> fail
}

func ExampleModule() {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_HEALTH_TTL": "500ms"}))),
		grelhealth.Module,
		// Providers contribute their checks to the group; apps may too.
		grelhealth.Supply(grelhealth.Check{Name: "app", Func: func(context.Context) error { return nil }}),
		fx.Invoke(func(h *grelhealth.Handler) {
			mux := http.NewServeMux()
			h.Mount(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			fmt.Println(h.Checker().Names(), h.Checker().Config().TTL, rec.Code)
		}),
	)
	if err := app.Start(context.Background()); err != nil {
		panic(err)
	}
	_ = app.Stop(context.Background())
	// Output:
	// [app] 500ms 200
}

// exampleServer is the app's HTTP server: its constructor mounts the
// endpoints and appends the server's own hook.
func exampleServer(lc fx.Lifecycle, h *grelhealth.Handler) *http.Server {
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { fmt.Println("server started"); return nil }, // the real one serves on a listener
		OnStop: func(ctx context.Context) error {
			fmt.Println("server stopping, draining:", h.Checker().Draining())
			return srv.Shutdown(ctx)
		},
	})
	return srv
}

func ExampleStopAfterDrain() {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_HEALTH_DRAIN_DELAY": "10ms"}))),
		grelhealth.Module,
		fx.Provide(exampleServer),
		grelhealth.StopAfterDrain[*http.Server](), // readiness flips and the delay passes before Shutdown
	)
	if err := app.Start(context.Background()); err != nil {
		panic(err)
	}
	_ = app.Stop(context.Background())
	// Output:
	// server started
	// server stopping, draining: true
}
