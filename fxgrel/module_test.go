package fxgrel_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestModuleProvidesEverything(t *testing.T) {
	var out syncBuffer
	var (
		src    grelconfig.Source
		reg    *grelconfig.Registry
		logger *zap.Logger
		sl     *slog.Logger
		tp     trace.TracerProvider
		mp     metric.MeterProvider
	)
	app := fxtest.New(t,
		fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt", "GREL_LOG_LEVEL": "debug"})),
		grellog.WithOptions(grellog.WithWriter(&out)),
		fx.Populate(&src, &reg, &logger, &sl, &tp, &mp),
	)
	app.RequireStart()
	if v, _ := src.Lookup("GREL_LOG_FORMAT"); v != "logfmt" {
		t.Errorf("source is not the injected map")
	}
	if v, _ := reg.Source().Lookup("GREL_LOG_LEVEL"); v != "debug" {
		t.Error("the registry does not read the provided source")
	}
	if !greltrace.IsNoop(tp) || mp == nil {
		t.Errorf("tracer provider %T with nothing configured", tp)
	}
	logger.Debug("from zap")
	sl.Debug("from slog")
	app.RequireStop()

	s := out.String()
	for _, want := range []string{`level=debug msg="from zap"`, `level=debug msg="from slog"`, "logger=fx msg=started", "logger=fx msg=provided"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	described := map[string]bool{}
	for _, e := range reg.Describe() {
		described[e.Variable] = true
	}
	for _, v := range []string{"GREL_CONFIG_DIR", "GREL_CONFIG_WATCH_INTERVAL", "GREL_LOG_LEVEL", "GREL_LOG_FORMAT", "NO_COLOR",
		"GREL_TRACE_SHUTDOWN_TIMEOUT", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !described[v] {
			t.Errorf("describe lacks %s", v)
		}
	}
}

func TestWithSourceFromANestedModule(t *testing.T) {
	var lvl zap.AtomicLevel
	app := fxtest.New(t,
		fxgrel.Module,
		fx.Module("app.tests", fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "error"}))),
		grellog.WithOptions(grellog.WithWriter(&syncBuffer{})),
		fx.Populate(&lvl),
	)
	app.RequireStart().RequireStop()
	if lvl.Level() != zapcore.ErrorLevel {
		t.Errorf("level %v: WithSource in a nested module was not used", lvl.Level())
	}
}

func TestBadValuesRefuseToStart(t *testing.T) {
	for _, tt := range []struct {
		env      map[string]string
		variable string
		value    string
	}{
		{map[string]string{"GREL_LOG_LEVEL": "verbose"}, "GREL_LOG_LEVEL", "verbose"},
		{map[string]string{"GREL_CONFIG_WATCH_INTERVAL": "often"}, "GREL_CONFIG_WATCH_INTERVAL", "often"},
		{map[string]string{"GREL_CONFIG_DIR": "/nonexistent/hidden-dir"}, "GREL_CONFIG_DIR", "hidden-dir"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"},
		{map[string]string{"GREL_TRACE_SHUTDOWN_TIMEOUT": "soon"}, "GREL_TRACE_SHUTDOWN_TIMEOUT", "soon"},
	} {
		t.Run(tt.variable, func(t *testing.T) {
			app := fx.New(fxgrel.Module, fxgrel.WithSource(grelconfig.Map(tt.env)), fx.NopLogger,
				grellog.WithOptions(grellog.WithWriter(&syncBuffer{})),
			)
			err := app.Err()
			if err == nil {
				t.Fatal("fx.New accepted the value")
			}
			if !strings.Contains(err.Error(), tt.variable) || strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q: want %s named and its value absent", err, tt.variable)
			}
		})
	}
}

func TestConfigDirLayeredAndWatched(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) {
		t.Helper()
		// Write then rename, as a ConfigMap update swaps files atomically.
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("GREL_LOG_LEVEL", "warn")
	var out syncBuffer
	var lvl zap.AtomicLevel
	var reg *grelconfig.Registry
	app := fxtest.New(t,
		fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{
			"GREL_CONFIG_DIR": dir, "GREL_CONFIG_WATCH_INTERVAL": "20ms",
			"GREL_LOG_LEVEL": "error", "GREL_LOG_FORMAT": "logfmt", // the file wins over the map
		})),
		grellog.WithOptions(grellog.WithWriter(&out)),
		fx.Populate(&lvl, &reg),
	)
	app.RequireStart()
	if lvl.Level() != zapcore.WarnLevel {
		t.Fatalf("level %v at start, want warn from the file", lvl.Level())
	}
	for _, e := range reg.Describe() {
		if e.Variable == "GREL_LOG_LEVEL" && e.Value != "warn" {
			t.Errorf("describe shows GREL_LOG_LEVEL=%s", e.Value)
		}
	}

	write("GREL_LOG_LEVEL", "info")
	waitFor(t, func() bool { return lvl.Level() == zapcore.InfoLevel })
	waitFor(t, func() bool { return strings.Contains(out.String(), "logger=grel.config msg=\"config reloaded\"") })

	// A refused value leaves the level and is logged as a warning.
	write("GREL_LOG_LEVEL", "chatty")
	waitFor(t, func() bool { return strings.Contains(out.String(), "config reload refused") })
	if lvl.Level() != zapcore.InfoLevel {
		t.Errorf("level %v after a refused value", lvl.Level())
	}
	if strings.Contains(out.String(), "chatty") {
		t.Error("the refused value was logged")
	}
	app.RequireStop()
}

func TestConfigDirWatchOff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "GREL_LOG_LEVEL"), []byte("debug"), 0o600); err != nil {
		t.Fatal(err)
	}
	var lvl zap.AtomicLevel
	app := fxtest.New(t, fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_CONFIG_DIR": dir, "GREL_CONFIG_WATCH_INTERVAL": "0"})),
		grellog.WithOptions(grellog.WithWriter(&syncBuffer{})), fx.Populate(&lvl))
	app.RequireStart()
	if lvl.Level() != zapcore.DebugLevel {
		t.Errorf("level %v: the directory is read even when not watched", lvl.Level())
	}
	app.RequireStop()
}

func TestDescribe(t *testing.T) {
	var reg *grelconfig.Registry
	app := fx.New(fx.NopLogger, fxgrel.Module,
		fxgrel.WithSource(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "warn", "OTEL_EXPORTER_OTLP_HEADERS": "k=secret-token"})),
		fx.Populate(&reg))
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fxgrel.Describe(&buf, reg); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.HasPrefix(s, "VARIABLE") || !strings.Contains(s, "GREL_LOG_LEVEL") || strings.Contains(s, "secret-token") {
		t.Errorf("table:\n%s", s)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "GREL_LOG_LEVEL ") && !strings.Contains(line, "warn") {
			t.Errorf("line %q", line)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
