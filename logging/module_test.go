package grellog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func TestModule(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt"}))
	var out syncBuffer
	var (
		logger *zap.Logger
		sl     *slog.Logger
		lvl    zap.AtomicLevel
	)
	app := fxtest.New(t,
		fx.Supply(reg),
		grellog.Module,
		grellog.WithOptions(grellog.WithWriter(&out)),
		fx.Populate(&logger, &sl, &lvl),
	)
	app.RequireStart()

	if got := strings.Contains(out.String(), "logger=fx"); got {
		t.Errorf("fx events logged at info level: %q", out.String())
	}
	logger.Debug("hidden")
	sl.Debug("hidden")
	logger.Info("from zap")
	sl.Info("from slog")
	if s := out.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=\"from zap\"") || !strings.Contains(s, "msg=\"from slog\"") {
		t.Errorf("output %q", s)
	}

	if live := reg.Live(); len(live) != 1 || live[0] != (grelconfig.Key{Kind: "LOG"}) {
		t.Fatalf("live instances %v, want the LOG instance", live)
	}
	// A reload changes the level live, for both loggers.
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt", "GREL_LOG_LEVEL": "debug"})); err != nil {
		t.Fatal(err)
	}
	if lvl.Level() != zapcore.DebugLevel || !logger.Core().Enabled(zapcore.DebugLevel) || !sl.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("reload did not lower the level")
	}
	// A reload that changes the format is refused; the level stays.
	err := reg.Reload(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "json", "GREL_LOG_LEVEL": "error"}))
	var re *grelconfig.ReloadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "Format cannot change") {
		t.Errorf("reload error %v", err)
	}
	if lvl.Level() != zapcore.DebugLevel {
		t.Errorf("level %v after a refused reload", lvl.Level())
	}
	// A bad value is refused too.
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt", "GREL_LOG_LEVEL": "loud"})); err == nil || strings.Contains(err.Error(), "loud") {
		t.Errorf("reload error %v", err)
	}

	app.RequireStop()
	if live := reg.Live(); len(live) != 0 {
		t.Errorf("still registered after stop: %v", live)
	}
}

func TestModuleFxEventsAtDebug(t *testing.T) {
	var out syncBuffer
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt", "GREL_LOG_LEVEL": "debug"}))
	app := fxtest.New(t, fx.Supply(reg), grellog.Module, grellog.WithOptions(grellog.WithWriter(&out)), fx.Invoke(func(*zap.Logger) {}))
	app.RequireStart().RequireStop()
	s := out.String()
	for _, want := range []string{"level=debug logger=fx msg=provided", "level=debug logger=fx msg=started"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
}

func TestModuleWithoutRegistry(t *testing.T) {
	// Without a registry the module reads the process environment; the
	// logger must still build with the defaults.
	var logger *zap.Logger
	app := fxtest.New(t, grellog.Module, grellog.WithOptions(grellog.WithWriter(&syncBuffer{})), fx.Populate(&logger))
	app.RequireStart().RequireStop()
	if logger == nil {
		t.Fatal("no logger")
	}
}

func TestModuleRefusesBadLevel(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "verbose"}))
	// Nothing asks for the logger: the module builds it anyway.
	app := fx.New(fx.Supply(reg), grellog.Module, grellog.WithOptions(grellog.WithWriter(&syncBuffer{})), fx.NopLogger)
	err := app.Err()
	if err == nil {
		t.Fatal("fx.New accepted GREL_LOG_LEVEL=verbose")
	}
	if !strings.Contains(err.Error(), "GREL_LOG_LEVEL") || strings.Contains(err.Error(), "verbose") {
		t.Errorf("error %q: want the variable's name and not its value", err)
	}
}

func TestSyncIgnoresTerminalErrors(t *testing.T) {
	l, _ := newTestLogger(t, grellog.FormatJSON)
	if err := grellog.Sync(l); err != nil {
		t.Error(err)
	}
}
