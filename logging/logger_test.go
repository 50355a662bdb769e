package grellog_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []grellog.Option
		want    grellog.Config
		wantErr string // a variable the error names
		secret  string // a value the error must not contain
	}{
		{name: "defaults", want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.InfoLevel, Color: grellog.ColorAuto}},
		{name: "every variable", env: map[string]string{
			"GREL_LOG_FORMAT": "LOGFMT", "GREL_LOG_LEVEL": "debug", "GREL_LOG_CALLER": "true", "GREL_LOG_SAMPLING": "yes", "GREL_LOG_COLOR": "never",
		}, want: grellog.Config{Format: grellog.FormatLogfmt, Level: zapcore.DebugLevel, Caller: true, Sampling: true, Color: grellog.ColorNever}},
		{name: "warning is warn", env: map[string]string{"GREL_LOG_LEVEL": "Warning"},
			want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.WarnLevel, Color: grellog.ColorAuto}},
		{name: "option wins over variable", env: map[string]string{"GREL_LOG_LEVEL": "debug", "GREL_LOG_FORMAT": "pretty"},
			opts: []grellog.Option{grellog.WithLevel(zapcore.ErrorLevel)},
			want: grellog.Config{Format: grellog.FormatPretty, Level: zapcore.ErrorLevel, Color: grellog.ColorAuto}},
		{name: "NO_COLOR turns auto colour off", env: map[string]string{"NO_COLOR": "1"},
			want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.InfoLevel, Color: grellog.ColorNever}},
		{name: "NO_COLOR leaves always", env: map[string]string{"NO_COLOR": "1", "GREL_LOG_COLOR": "always"},
			want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.InfoLevel, Color: grellog.ColorAlways}},
		{name: "empty NO_COLOR is unset", env: map[string]string{"NO_COLOR": ""},
			want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.InfoLevel, Color: grellog.ColorAuto}},
		{name: "GREL_ENV_LOAD=false ignores GREL_LOG_*", env: map[string]string{"GREL_ENV_LOAD": "false", "GREL_LOG_LEVEL": "nonsense"},
			want: grellog.Config{Format: grellog.FormatAuto, Level: zapcore.InfoLevel, Color: grellog.ColorAuto}},
		{name: "bad level", env: map[string]string{"GREL_LOG_LEVEL": "verbose"}, wantErr: "GREL_LOG_LEVEL", secret: "verbose"},
		{name: "bad format", env: map[string]string{"GREL_LOG_FORMAT": "xmlish"}, wantErr: "GREL_LOG_FORMAT", secret: "xmlish"},
		{name: "bad bool", env: map[string]string{"GREL_LOG_CALLER": "maybe"}, wantErr: "GREL_LOG_CALLER", secret: "maybe"},
		{name: "bad colour", env: map[string]string{"GREL_LOG_COLOR": "rainbow"}, wantErr: "GREL_LOG_COLOR", secret: "rainbow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := grelconfig.NewRegistry(grelconfig.Map(tt.env))
			got, err := grellog.LoadConfig(reg, tt.opts...)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, config %+v", got)
				}
				if !errors.Is(err, grelconfig.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not name %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the value", err)
				}
				if _, err := grellog.Load(reg, tt.opts...); err == nil {
					t.Error("Load accepted the bad value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigRecordsForDescribe(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_LOG_LEVEL": "warn"}))
	if _, err := grellog.LoadConfig(reg); err != nil {
		t.Fatal(err)
	}
	seen := map[string]grelconfig.Origin{}
	for _, e := range reg.Describe() {
		seen[e.Variable] = e.Origin
	}
	want := map[string]grelconfig.Origin{
		"GREL_LOG_FORMAT": grelconfig.OriginDefault, "GREL_LOG_LEVEL": grelconfig.OriginKind,
		"GREL_LOG_CALLER": grelconfig.OriginDefault, "GREL_LOG_SAMPLING": grelconfig.OriginDefault,
		"GREL_LOG_COLOR": grelconfig.OriginDefault, "NO_COLOR": grelconfig.OriginDefault,
	}
	for v, o := range want {
		if seen[v] != o {
			t.Errorf("%s origin %q, want %q", v, seen[v], o)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []grellog.Config{
		{},
		{Format: "xml", Level: zapcore.InfoLevel, Color: grellog.ColorAuto},
		{Format: grellog.FormatJSON, Level: zapcore.FatalLevel, Color: grellog.ColorAuto},
		{Format: grellog.FormatJSON, Level: zapcore.InfoLevel, Color: "pink"},
	} {
		if _, err := grellog.New(cfg); !errors.Is(err, grelconfig.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
}

func TestAutoFormatAndColour(t *testing.T) {
	tests := []struct {
		name      string
		terminal  bool
		color     grellog.Color
		wantJSON  bool
		wantColor bool
	}{
		{"not a terminal: json", false, grellog.ColorAuto, true, false},
		{"terminal: coloured pretty", true, grellog.ColorAuto, false, true},
		{"terminal, colour never", true, grellog.ColorNever, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithTerminal(tt.terminal), grellog.WithColor(tt.color))
			if err != nil {
				t.Fatal(err)
			}
			l.Info("hello")
			out := buf.String()
			if got := strings.HasPrefix(out, "{"); got != tt.wantJSON {
				t.Errorf("json = %v in %q", got, out)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.wantColor {
				t.Errorf("colour = %v in %q", got, out)
			}
		})
	}
}

func TestBytesBufferIsNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf))
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello")
	if !strings.HasPrefix(buf.String(), `{"level":"info","time":`) {
		t.Errorf("auto on a buffer should be json: %q", buf.String())
	}
}

func TestLevelFilterAndAtomicLevel(t *testing.T) {
	lvl := zap.NewAtomicLevel()
	core, logs := observer.New(zapcore.DebugLevel)
	var buf bytes.Buffer
	l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithFormat(grellog.FormatLogfmt),
		grellog.WithAtomicLevel(lvl), grellog.WithTee(core))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		set     zapcore.Level
		log     zapcore.Level
		written bool
	}{
		{zapcore.InfoLevel, zapcore.DebugLevel, false},
		{zapcore.InfoLevel, zapcore.InfoLevel, true},
		{zapcore.WarnLevel, zapcore.InfoLevel, false},
		{zapcore.WarnLevel, zapcore.ErrorLevel, true},
		{zapcore.DebugLevel, zapcore.DebugLevel, true},
	}
	for i, s := range steps {
		lvl.SetLevel(s.set)
		buf.Reset()
		before := logs.Len()
		l.Log(s.log, "step")
		if got := buf.Len() > 0; got != s.written {
			t.Errorf("step %d: written %v, want %v", i, got, s.written)
		}
		if got := logs.Len() > before; got != s.written {
			t.Errorf("step %d: tee saw it %v, want %v", i, got, s.written)
		}
	}
}

func TestSampling(t *testing.T) {
	var buf bytes.Buffer
	l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithFormat(grellog.FormatJSON), grellog.WithSampling(true))
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		l.Info("same message")
	}
	// The first 100 of the second, then one in 100 of the 900 others.
	if got := strings.Count(buf.String(), "\n"); got != 109 {
		t.Errorf("%d lines written, want 109", got)
	}
}

func TestWithFields(t *testing.T) {
	var buf bytes.Buffer
	l, err := grellog.New(grellog.DefaultConfig(), grellog.WithWriter(&buf), grellog.WithFormat(grellog.FormatLogfmt),
		grellog.WithFields(zap.String("service", "cart")), grellog.WithClock(fixedClock{testTime}))
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello")
	if want := "time=2026-01-02T03:04:05.678Z level=info msg=hello service=cart\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// TestNewEncoder: every format has its encoder; any other value is an error
// (never a panic) that does not repeat the value.
func TestNewEncoder(t *testing.T) {
	entry := zapcore.Entry{Level: zapcore.InfoLevel, Time: testTime, Message: "hello"}
	tests := []struct {
		format grellog.Format
		color  bool
		want   string // prefix of the encoded entry; "" for an error
	}{
		{grellog.FormatJSON, false, `{"level":"info","time":"2026-01-02T03:04:05.678Z","msg":"hello"}`},
		{grellog.FormatAuto, false, `{"level":"info",`},
		{grellog.FormatLogfmt, false, "time=2026-01-02T03:04:05.678Z level=info msg=hello"},
		{grellog.FormatPretty, true, "\x1b["},
		{"xml", false, ""},
		{"", false, ""},
		{"JSON", false, ""}, // Format values are the constants; GREL_LOG_FORMAT folds case before
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			enc, err := grellog.NewEncoder(tt.format, tt.color)
			if tt.want == "" {
				if !errors.Is(err, grellog.ErrUnknownFormat) || enc != nil {
					t.Fatalf("NewEncoder(%q) = %v, %v; want nil, ErrUnknownFormat", tt.format, enc, err)
				}
				if tt.format != "" && strings.Contains(err.Error(), string(tt.format)) {
					t.Errorf("error %q repeats the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			buf, err := enc.EncodeEntry(entry, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(buf.String(), tt.want) {
				t.Errorf("encoded %q, want the prefix %q", buf.String(), tt.want)
			}
		})
	}
}
