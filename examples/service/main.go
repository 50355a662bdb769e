// Command service is grelmicro-go's example service, what `make run` starts:
// an HTTP server on 127.0.0.1:8080 (GREL_HTTP_ADDR) built with
// fx.New(fxgrel.Module, ...), logging through grellog and tracing through
// greltrace, that needs no server at all (memory and SQLite backends).
//
//	go run ./examples/service              # serve until SIGINT or SIGTERM (stops within 5s on the defaults)
//	go run ./examples/service --describe   # print every variable it reads, and exit
//
// On SIGINT or SIGTERM it stops within a budget made of its parts (see
// [stopBudget]): GREL_HEALTH_DRAIN_DELAY (/readyz answers 503 meanwhile),
// then GREL_HTTP_SHUTDOWN_TIMEOUT, then GREL_TRACE_SHUTDOWN_TIMEOUT when
// telemetry is exported, plus grelhealth.DrainReserve for the rest; 5s on the
// defaults. docs/example.md has the routes and the variables.
//
// # Adding a pattern
//
// Each pattern is one file, examples/service/<pattern>.go, that declares an
// fx.Option named after it and contributes HTTP routes that use it:
//
//	// lock.go
//	var lockExample = fx.Options(
//		grellock.Module,
//		provideRoutes(func(l *grellock.Lock) []Route {
//			return []Route{{Pattern: "POST /lock/{name}", Handler: ..., Doc: "acquire and release a lock"}}
//		}),
//	)
//
// and one line in [patterns] below. Routes are what make the pattern's
// components built (Fx builds what something uses), so --describe lists
// their variables and a bad value refuses to start. The index at / lists
// every route with its Doc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// patterns lists the pattern files' options, one line each
// (examples/service/<pattern>.go).
var patterns = []fx.Option{
	healthExample,
	resilienceExample,
	ratelimitExample,
	coordinationExample,
}

// modules composes the service: the core, the HTTP server, the store the
// deployment points at (backends.go), the patterns.
func modules() []fx.Option {
	_, store := backendsFor(grelconfig.Env())
	return append([]fx.Option{fxgrel.Module, serverModule, store}, patterns...)
}

// stopBudget bounds the whole stop, from its parts, in the order they stop:
// the readiness drain (GREL_HEALTH_DRAIN_DELAY, 0 by default), the HTTP
// server's shutdown (GREL_HTTP_SHUTDOWN_TIMEOUT, 3s), the telemetry flush
// (GREL_TRACE_SHUTDOWN_TIMEOUT, 5s, counted only when spans or metrics are
// exported: the no-op providers stop at once), plus grelhealth.DrainReserve
// (2s) for the rest: the leader lease's release, the health checker, the
// store's close. On the defaults that is 0 + 3s + 0 + 2s = 5s. The reserve is
// the share grelhealth's drain leaves to the hooks after it, so a budget
// built this way never cuts the drain.
func stopBudget(drainDelay, httpShutdown time.Duration, telemetry greltrace.Config) time.Duration {
	d := drainDelay + httpShutdown + grelhealth.DrainReserve
	if exports(telemetry) {
		d += telemetry.ShutdownTimeout
	}
	return d
}

// exports reports whether the telemetry providers export anything, and so
// have something to flush on stop.
func exports(c greltrace.Config) bool {
	return !c.Disabled && (len(c.TracesExporters) > 0 || len(c.MetricsExporters) > 0)
}

// parts are the components the stop budget is made of, read from the graph
// once fx.New has resolved their config.
type parts struct {
	fx.In
	Registry  *grelconfig.Registry
	Checker   *grelhealth.Checker
	Server    *Server
	Telemetry *greltrace.Providers
	Logger    *zap.Logger
}

func (p parts) stopBudget() time.Duration {
	return stopBudget(p.Checker.Config().DrainDelay, p.Server.cfg.ShutdownTimeout, p.Telemetry.Config())
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("service", flag.ContinueOnError)
	flags.SetOutput(stderr)
	describe := flags.Bool("describe", false, "print every variable the service reads (type, default, value, origin) and exit")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	var p parts
	app := fx.New(append(modules(),
		fx.Invoke(func(in parts) { p = in }),
	)...)
	if err := app.Err(); err != nil {
		fmt.Fprintf(stderr, "service: refusing to start: %v\n", err)
		return 1
	}
	if *describe {
		if err := fxgrel.Describe(stdout, p.Registry); err != nil {
			fmt.Fprintf(stderr, "service: %v\n", err)
			return 1
		}
		return 0
	}

	// Catch the signals before any component starts: Fx registers its own
	// handler only once every OnStart hook has returned, and a signal in
	// between would kill the process instead of stopping it.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	budget := p.stopBudget()
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "service: start: %v\n", err)
		stopCtx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		_ = app.Stop(stopCtx)
		return 1
	}
	code := 0
	select {
	case sig := <-app.Wait(): // a component's fx.Shutdowner (or a signal Fx saw)
		code = sig.ExitCode
		p.Logger.Info("stopping", zap.String("signal", sig.Signal.String()), zap.Int("exit_code", code), zap.Duration("timeout", budget))
	case sig := <-signals:
		p.Logger.Info("stopping", zap.String("signal", sig.String()), zap.Duration("timeout", budget))
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), budget)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "service: stop: %v\n", err)
		return 1
	}
	return code
}
