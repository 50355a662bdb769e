package grellog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

var exampleClock = fixedClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

func ExampleNew() {
	cfg := grellog.DefaultConfig()
	cfg.Format = grellog.FormatLogfmt
	logger, err := grellog.New(cfg, grellog.WithWriter(os.Stdout), grellog.WithClock(exampleClock))
	if err != nil {
		panic(err)
	}
	logger.Info("lock acquired",
		zap.String(grellog.FieldPattern, "lock"),
		zap.String(grellog.FieldName, "cart"),
		zap.Duration(grellog.FieldDuration, 1200*time.Microsecond))
	// Output:
	// time=2026-01-02T03:04:05.000Z level=info msg="lock acquired" pattern=lock name=cart duration=1.2ms
}

func ExampleLoad() {
	// In an app the registry comes from fxgrel; here a map stands for the
	// environment.
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_LOG_FORMAT": "json",
		"GREL_LOG_LEVEL":  "warn",
	}))
	logger, err := grellog.Load(reg, grellog.WithWriter(os.Stdout), grellog.WithClock(exampleClock))
	if err != nil {
		panic(err)
	}
	logger.Info("not written")
	logger.Warn("store slow", zap.String(grellog.FieldBackend, "redis"))

	_, err = grellog.Load(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "loud"})))
	fmt.Println(err)
	// Output:
	// {"level":"warn","time":"2026-01-02T03:04:05.000Z","msg":"store slow","backend":"redis"}
	// grelconfig: GREL_LOG_LEVEL (Level): must be one of debug, info, warn, error
}

func ExampleCtx() {
	logger, _ := grellog.New(grellog.DefaultConfig(), grellog.WithFormat(grellog.FormatLogfmt),
		grellog.WithWriter(os.Stdout), grellog.WithClock(exampleClock))
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	ctx = grellog.ContextWith(ctx, zap.String(grellog.FieldKey, "order-42"))

	grellog.Ctx(ctx, logger).Info("handled")
	logger.Info("handled", grellog.Context(ctx)) // the same, for one line
	// Output:
	// time=2026-01-02T03:04:05.000Z level=info msg=handled trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 key=order-42
	// time=2026-01-02T03:04:05.000Z level=info msg=handled trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 key=order-42
}

func ExampleSlog() {
	// A core without a time key, because slog stamps its records itself.
	enc := grellog.NewLogfmtEncoder(zapcore.EncoderConfig{LevelKey: "level", MessageKey: "msg"})
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(os.Stdout), zapcore.InfoLevel))

	s := grellog.Slog(logger)
	s.Debug("not written")
	s.Warn("retrying", "attempt", 2, "error", errors.New("timeout"))
	s.WithGroup("http").Info("served", "status", 200)
	// Output:
	// level=warn msg=retrying attempt=2 error=timeout
	// level=info msg=served http.status=200
}

func ExampleNewLogfmtEncoder() {
	core := zapcore.NewCore(grellog.NewLogfmtEncoder(zapcore.EncoderConfig{MessageKey: "msg"}), zapcore.AddSync(os.Stdout), zapcore.InfoLevel)
	zap.New(core).Info("a message", zap.Strings("tags", []string{"a", "b c"}), zap.Object("user", user{"Ann", 42}))
	// Output:
	// msg="a message" tags="[\"a\",\"b c\"]" user.name=Ann user.age=42
}

func ExampleModule() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_FORMAT": "logfmt"}))
	app := fx.New(
		fx.Supply(reg), // fxgrel.Module provides the registry in an app
		grellog.Module,
		grellog.WithOptions(grellog.WithWriter(os.Stdout), grellog.WithClock(exampleClock)),
		fx.Invoke(func(l *zap.Logger) { l.Info("started") }),
	)
	if err := app.Err(); err != nil {
		panic(err)
	}
	// Output:
	// time=2026-01-02T03:04:05.000Z level=info msg=started
}

func ExampleNewEncoder() {
	enc, err := grellog.NewEncoder(grellog.FormatLogfmt, false)
	if err != nil {
		panic(err)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(os.Stdout), zapcore.InfoLevel)
	zap.New(core, zap.WithClock(exampleClock)).Info("ready", zap.String(grellog.FieldPattern, "health"))

	_, err = grellog.NewEncoder("xml", false)
	fmt.Println(err, errors.Is(err, grellog.ErrUnknownFormat))
	// Output:
	// time=2026-01-02T03:04:05.000Z level=info msg=ready pattern=health
	// grellog: unknown log format: want auto, json, logfmt or pretty true
}
