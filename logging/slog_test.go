package grellog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// TestSlogHandlerConformance runs the standard library's handler test suite
// on the handler over a JSON core.
func TestSlogHandlerConformance(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf.Reset()
		l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithFormat(grellog.FormatJSON), grellog.WithLevel(zapcore.DebugLevel))
		if err != nil {
			t.Fatal(err)
		}
		return grellog.NewSlogHandler(l)
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%v in %q", err, buf.String())
		}
		// zap's JSON encoder writes a zero time as year 1 instead of leaving
		// the key out; the suite's zero-time case wants it absent.
		if m["time"] == "0001-01-01T00:00:00.000Z" {
			delete(m, "time")
		}
		return m
	})
}

func spanContext(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestSlogLevelsAndTrace(t *testing.T) {
	l, buf := newTestLogger(t, grellog.FormatLogfmt, grellog.WithLevel(zapcore.InfoLevel))
	s := grellog.Slog(l.Named("lib"))
	ctx, _ := spanContext(t)
	ctx = grellog.ContextWith(ctx, zap.String(grellog.FieldOp, "acquire"))

	s.DebugContext(ctx, "hidden")
	s.InfoContext(ctx, "shown", "n", 1, slog.Group("g", "a", "b"), "err", errors.New("bad"), "d", time.Second)
	s.Log(ctx, slog.LevelWarn+1, "warnish")
	s.Log(ctx, slog.LevelError+4, "errorish")
	s.With("k", "v").WithGroup("req").Info("grouped", "id", 7)

	want := []string{
		`level=info logger=lib msg=shown trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 op=acquire n=1 g.a=b err=bad d=1s`,
		`level=warn logger=lib msg=warnish trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 op=acquire`,
		`level=error logger=lib msg=errorish trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 op=acquire`,
		`level=info logger=lib msg=grouped k=v req.id=7`,
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i := range want {
		at := strings.Index(lines[i], "level=")
		if at < 0 {
			t.Fatalf("line %d has no level: %s", i, lines[i])
		}
		got := lines[i][at:] // slog stamps records itself
		if got != want[i] {
			t.Errorf("line %d:\ngot  %s\nwant %s", i, got, want[i])
		}
	}
}

func TestSlogSource(t *testing.T) {
	l, buf := newTestLogger(t, grellog.FormatLogfmt)
	grellog.Slog(l, grellog.WithSlogSource()).Info("hello")
	if !strings.Contains(buf.String(), "caller=logging/slog_test.go:") {
		t.Errorf("no caller in %q", buf.String())
	}
}

func TestCtxAndContext(t *testing.T) {
	traced, _ := spanContext(t)
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no span", context.Background(), ``},
		{"invalid span context", trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), ``},
		{"span", traced, ` trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331`},
		{"fields, later key wins", grellog.ContextWith(grellog.ContextWith(context.Background(), zap.String("a", "1"), zap.String("b", "2")), zap.String("a", "3")),
			` b=2 a=3`},
		{"span and fields", grellog.ContextWith(traced, zap.Int("n", 1)), ` trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 n=1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const head = `time=2026-01-02T03:04:05.678Z level=info msg=m`
			l, buf := newTestLogger(t, grellog.FormatLogfmt)
			grellog.Ctx(tt.ctx, l).Info("m")
			l.Info("m", grellog.Context(tt.ctx))
			want := head + tt.want + "\n" + head + tt.want + "\n"
			if buf.String() != want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
			}
		})
	}
}

func TestCtxReturnsSameLoggerWithoutFields(t *testing.T) {
	l := zap.NewNop()
	if grellog.Ctx(context.Background(), l) != l {
		t.Error("Ctx allocated a logger for a context without fields")
	}
}
