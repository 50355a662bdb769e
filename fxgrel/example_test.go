package fxgrel_test

import (
	"fmt"
	"os"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

func ExampleModule() {
	app := fx.New(
		fxgrel.Module,
		// A map instead of the process environment, as tests do.
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "json", "GREL_LOG_LEVEL": "warn"})),
		fx.Invoke(func(l *zap.Logger) { fmt.Println(l.Core().Enabled(zap.InfoLevel), l.Core().Enabled(zap.WarnLevel)) }),
	)
	if err := app.Err(); err != nil {
		panic(err)
	}
	// Output: false true
}

func ExampleWithSource() {
	app := fx.New(
		fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "verbose"})),
		grellog.WithOptions(grellog.WithWriter(os.Stdout)),
		fx.NopLogger,
		fx.Invoke(func(*zap.Logger) {}),
	)
	fmt.Println(app.Err() != nil)
	// Output: true
}

func ExampleDescribe() {
	var reg *grelconfig.Registry
	app := fx.New(
		fx.NopLogger,
		fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "debug"})),
		fx.Populate(&reg),
	)
	if err := app.Err(); err != nil {
		panic(err)
	}
	var onlyLog []grelconfig.Entry
	for _, e := range reg.Describe() {
		if e.Kind == grellog.Kind {
			onlyLog = append(onlyLog, e)
		}
	}
	_ = grelconfig.WriteTable(os.Stdout, onlyLog) // fxgrel.Describe(os.Stdout, reg) writes them all
	// Output:
	// VARIABLE           TYPE    DEFAULT  VALUE  ORIGIN
	// GREL_LOG_CALLER    bool    false    false  default
	// GREL_LOG_COLOR     enum    auto     auto   default
	// GREL_LOG_FORMAT    enum    auto     auto   default
	// GREL_LOG_LEVEL     enum    info     debug  kind
	// GREL_LOG_SAMPLING  bool    false    false  default
	// NO_COLOR           string  -        -      default
}
