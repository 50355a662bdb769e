package bench

import (
	"errors"
	"io"
	"testing"
	"time"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logLineFields are the fields of a typical pattern log line.
func logLineFields() []zap.Field {
	return []zap.Field{
		zap.String(grellog.FieldPattern, "lock"),
		zap.String(grellog.FieldName, "cart"),
		zap.String(grellog.FieldBackend, "redis"),
		zap.String(grellog.FieldKey, "order-42"),
		zap.Duration(grellog.FieldDuration, 1500*time.Microsecond),
	}
}

// BenchmarkLogLine writes one message with five typical fields to
// io.Discard, through each grellog format and through the logger
// zap.NewProduction builds (its JSON encoder config, caller on; sampling
// off, since sampling would drop most of the lines measured). grel's
// formats leave the caller off by default (GREL_LOG_CALLER);
// grel-json-caller turns it on for a like-for-like comparison.
//
//	go test -run '^$' -bench LogLine -benchmem . | go run ./cmd/benchratio
func BenchmarkLogLine(b *testing.B) {
	fields := logLineFields()
	for _, tt := range []struct {
		name string
		new  func() *zap.Logger
	}{
		{"grel-json", grelLogger(grellog.FormatJSON, false)},
		{"grel-logfmt", grelLogger(grellog.FormatLogfmt, false)},
		{"grel-pretty", grelLogger(grellog.FormatPretty, false)},
		{"grel-json-caller", grelLogger(grellog.FormatJSON, true)},
		{"zap-production", zapProduction},
	} {
		b.Run(tt.name, func(b *testing.B) {
			l := tt.new()
			b.ReportAllocs()
			for b.Loop() {
				l.Info("lock acquired", fields...)
			}
		})
	}
}

func grelLogger(format grellog.Format, caller bool) func() *zap.Logger {
	return func() *zap.Logger {
		cfg := grellog.DefaultConfig()
		cfg.Format, cfg.Caller, cfg.Color = format, caller, grellog.ColorNever
		l, err := grellog.New(cfg, grellog.WithWriter(io.Discard))
		if err != nil {
			panic(err)
		}
		return l
	}
}

// zapProduction is zap.NewProduction with its output sent to io.Discard
// (locked, as zap locks the stderr it opens) and without its sampler.
func zapProduction() *zap.Logger {
	cfg := zap.NewProductionConfig()
	cfg.Sampling = nil
	l, err := cfg.Build(zap.WrapCore(func(zapcore.Core) zapcore.Core {
		return zapcore.NewCore(zapcore.NewJSONEncoder(cfg.EncoderConfig), zapcore.Lock(zapcore.AddSync(io.Discard)), cfg.Level)
	}))
	if err != nil {
		panic(err)
	}
	return l
}

// BenchmarkLogLineError is the same line with an error field, the other
// common shape (a failed operation logged at warn).
func BenchmarkLogLineError(b *testing.B) {
	fields := append(logLineFields(), zap.Error(errors.New("grellock: not acquired")))
	for _, tt := range []struct {
		name string
		new  func() *zap.Logger
	}{
		{"grel-json", grelLogger(grellog.FormatJSON, false)},
		{"grel-logfmt", grelLogger(grellog.FormatLogfmt, false)},
		{"zap-production", zapProduction},
	} {
		b.Run(tt.name, func(b *testing.B) {
			l := tt.new()
			b.ReportAllocs()
			for b.Loop() {
				l.Warn("lock not acquired", fields...)
			}
		})
	}
}
