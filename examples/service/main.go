// Command service is grelmicro-go's example service, what `make run` starts:
// an HTTP server on 127.0.0.1:8080 (GREL_HTTP_ADDR) built with
// fx.New(fxgrel.Module, ...), logging through grellog and tracing through
// greltrace, that needs no server at all (memory and SQLite backends).
//
//	go run ./examples/service              # serve until SIGINT or SIGTERM (stops within 5s)
//	go run ./examples/service --describe   # print every variable it reads, and exit
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

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
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

// stopTimeout bounds the whole stop: the HTTP drain, then the flush of
// telemetry.
const stopTimeout = 5 * time.Second

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

	var reg *grelconfig.Registry
	app := fx.New(append(modules(),
		fx.StopTimeout(stopTimeout),
		fx.Populate(&reg),
		fx.Invoke(func(*Server) {}),
	)...)
	if err := app.Err(); err != nil {
		fmt.Fprintf(stderr, "service: refusing to start: %v\n", err)
		return 1
	}
	if *describe {
		if err := fxgrel.Describe(stdout, reg); err != nil {
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
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "service: start: %v\n", err)
		stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		_ = app.Stop(stopCtx)
		return 1
	}
	code := 0
	select {
	case sig := <-app.Wait(): // a component's fx.Shutdowner (or a signal Fx saw)
		code = sig.ExitCode
	case <-signals:
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), stopTimeout)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "service: stop: %v\n", err)
		return 1
	}
	return code
}
