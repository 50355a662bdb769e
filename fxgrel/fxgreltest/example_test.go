package fxgreltest_test

import (
	"fmt"
	"os"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
)

// exampleT stands for the *testing.T a test has.
type exampleT struct{ cleanups []func() }

func (*exampleT) Logf(string, ...any)       {}
func (*exampleT) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (*exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (*exampleT) FailNow()                  { panic("FailNow") }
func (*exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())        { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func ExampleStart() {
	t := &exampleT{} // in a test: the test's *testing.T
	defer t.end()

	var logs *observer.ObservedLogs
	fxgreltest.Start(t, map[string]string{"GREL_LOG_LEVEL": "info"},
		fx.Invoke(func(l *zap.Logger) { l.Info("ready", zap.String("name", "cart")) }),
		fx.Populate(&logs),
	)
	for _, e := range logs.FilterMessage("ready").All() {
		fmt.Println(e.Message, e.ContextMap()["name"])
	}
	// Output: ready cart
}

func ExampleNew() {
	t := &exampleT{}
	defer t.end()

	app := fxgreltest.New(t, nil)
	app.RequireStart()
	fmt.Println("started")
	app.RequireStop()
	// Output: started
}
