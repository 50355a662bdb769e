package grelretry_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func threeAttempts(ctx context.Context, r *grelretry.Retrier) {
	n := 0
	_ = r.Do(ctx, func(context.Context) error {
		n++
		if n < 3 {
			return errTransient
		}
		return nil
	})
}

func TestDebugLogPerRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		r := mustNew(t, grelretry.WithLogger(zap.New(core)), grelretry.WithAlgorithm(grelretry.Constant),
			grelretry.WithDelay(time.Second), grelretry.WithJitter(grelretry.JitterNone))
		threeAttempts(context.Background(), r)
		entries := logs.All()
		if len(entries) != 2 {
			t.Fatalf("%d log lines, want one per retry (2)", len(entries))
		}
		for i, e := range entries {
			f := e.ContextMap()
			if e.Level != zapcore.DebugLevel || e.Message != "retrying" || f["pattern"] != "retry" || f["name"] != "test" ||
				f["attempt"] != int64(i+1) || f["wait"] != time.Second || f["error"] != errTransient.Error() {
				t.Errorf("line %d: %s %s %v", i, e.Level, e.Message, f)
			}
		}
	})
}

func TestSpanEvents(t *testing.T) {
	t.Run("own span with a tracer provider", func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		r := mustNew(t, grelretry.WithTracerProvider(tp), grelretry.WithInitialDelay(0))
		threeAttempts(context.Background(), r)
		spans := rec.Ended()
		if len(spans) != 1 || spans[0].Name() != "grel.retry.do" {
			t.Fatalf("spans = %v", spans)
		}
		if ev := spans[0].Events(); len(ev) != 3 || ev[0].Name != "grel.retry.attempt" {
			t.Fatalf("events = %v, want one per attempt", ev)
		}
	})
	t.Run("events on the caller's recording span otherwise", func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
		r := mustNew(t, grelretry.WithInitialDelay(0))
		threeAttempts(ctx, r)
		span.End()
		spans := rec.Ended()
		if len(spans) != 1 || len(spans[0].Events()) != 3 {
			t.Fatalf("spans %v", spans)
		}
	})
}
