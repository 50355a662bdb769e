package grellog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-logfmt/logfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// fixedClock stamps every entry with the same instant.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func newTestLogger(t testing.TB, format grellog.Format, opts ...grellog.Option) (*zap.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	opts = append([]grellog.Option{grellog.WithWriter(&buf), grellog.WithClock(fixedClock{testTime}), grellog.WithLevel(zapcore.DebugLevel)}, opts...)
	l, err := grellog.New(grellog.DefaultConfig(), append(opts, grellog.WithFormat(format))...)
	if err != nil {
		t.Fatal(err)
	}
	return l, &buf
}

type user struct {
	Name string
	Age  int
}

func (u user) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", u.Name)
	enc.AddInt("age", u.Age)
	return nil
}

type empty struct{}

func (empty) MarshalLogObject(zapcore.ObjectEncoder) error { return nil }

func TestLogfmtLines(t *testing.T) {
	const head = `time=2026-01-02T03:04:05.678Z level=info msg=hello `
	tests := []struct {
		name   string
		log    func(l *zap.Logger)
		want   string
		prefix string // defaults to head
	}{
		{"plain string", func(l *zap.Logger) { l.Info("hello", zap.String("k", "v")) }, "k=v", ""},
		{"message with space", func(l *zap.Logger) { l.Info("hello world") }, `time=2026-01-02T03:04:05.678Z level=info msg="hello world"`, "-"},
		{"space quoted", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a b")) }, `k="a b"`, ""},
		{"equals quoted", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a=b")) }, `k="a=b"`, ""},
		{"quote escaped", func(l *zap.Logger) { l.Info("hello", zap.String("k", `say "hi"`)) }, `k="say \"hi\""`, ""},
		{"backslash quoted", func(l *zap.Logger) { l.Info("hello", zap.String("k", `C:\temp`)) }, `k="C:\\temp"`, ""},
		{"empty quoted", func(l *zap.Logger) { l.Info("hello", zap.String("k", "")) }, `k=""`, ""},
		{"newline escaped", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a\nb\tc\rd")) }, `k="a\nb\tc\rd"`, ""},
		{"control escaped", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a\x1bb\x7f")) }, `k="a\u001bb\u007f"`, ""},
		{"invalid utf8 replaced", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a\xffb")) }, `k="a\ufffdb"`, ""},
		{"non-breaking space quoted", func(l *zap.Logger) { l.Info("hello", zap.String("k", "a\u00a0b")) }, `k="a\u00a0b"`, ""},
		{"printable unicode bare", func(l *zap.Logger) { l.Info("hello", zap.String("k", "héllo→✓")) }, `k=héllo→✓`, ""},
		{"key sanitized", func(l *zap.Logger) {
			l.Info("hello", zap.String("a b", "1"), zap.String("a=b", "2"), zap.String(`a"b`, "3"), zap.String("", "4"), zap.String("é", "5"))
		}, `a_b=1 a_b=2 a_b=3 _=4 é=5`, ""},
		{"numbers and bools", func(l *zap.Logger) {
			l.Info("hello", zap.Int("i", -3), zap.Uint64("u", 7), zap.Float64("f", 1.5), zap.Float64("nan", math.NaN()),
				zap.Float64("inf", math.Inf(-1)), zap.Bool("b", true), zap.Complex128("c", complex(1, -2)))
		}, `i=-3 u=7 f=1.5 nan=NaN inf=-Inf b=true c=1-2i`, ""},
		{"duration in Go syntax", func(l *zap.Logger) {
			l.Info("hello", zap.Duration(grellog.FieldDuration, 1500*time.Microsecond), zap.Duration("long", 90*time.Minute))
		}, `duration=1.5ms long=1h30m0s`, ""},
		{"time field", func(l *zap.Logger) { l.Info("hello", zap.Time("at", testTime)) }, `at=2026-01-02T03:04:05.678Z`, ""},
		{"binary base64", func(l *zap.Logger) { l.Info("hello", zap.Binary("b", []byte{0xff, 0x00})) }, `b="/wA="`, ""},
		{"namespace flattened", func(l *zap.Logger) {
			l.With(zap.Namespace("http")).Info("hello", zap.String("method", "GET"), zap.Int("status", 200))
		}, `http.method=GET http.status=200`, ""},
		{"object flattened", func(l *zap.Logger) { l.Info("hello", zap.Object("user", user{"Ann Lee", 42})) }, `user.name="Ann Lee" user.age=42`, ""},
		{"empty object", func(l *zap.Logger) { l.Info("hello", zap.Object("user", empty{})) }, `user={}`, ""},
		{"array as JSON", func(l *zap.Logger) { l.Info("hello", zap.Ints("ids", []int{1, 2, 3})) }, `ids=[1,2,3]`, ""},
		{"string array quoted", func(l *zap.Logger) { l.Info("hello", zap.Strings("s", []string{"a b", "c"})) }, `s="[\"a b\",\"c\"]"`, ""},
		{"object array", func(l *zap.Logger) { l.Info("hello", zap.Objects("us", []user{{"a", 1}})) }, `us="[{\"name\":\"a\",\"age\":1}]"`, ""},
		{"reflected", func(l *zap.Logger) { l.Info("hello", zap.Any("m", map[string]int{"a": 1})) }, `m="{\"a\":1}"`, ""},
		{"error", func(l *zap.Logger) { l.Info("hello", zap.Error(errors.New("store down"))) }, `error="store down"`, ""},
		{"context fields", func(l *zap.Logger) {
			l.With(zap.String(grellog.FieldPattern, "lock")).Info("hello", zap.String(grellog.FieldName, "cart"))
		}, `pattern=lock name=cart`, ""},
		{"logger name", func(l *zap.Logger) { l.Named("grel").Named("lock").Info("hello") },
			`time=2026-01-02T03:04:05.678Z level=info logger=grel.lock msg=hello`, "-"},
		{"levels", func(l *zap.Logger) { l.Warn("hello") }, `time=2026-01-02T03:04:05.678Z level=warn msg=hello`, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, buf := newTestLogger(t, grellog.FormatLogfmt)
			tt.log(l)
			want := head + tt.want + "\n"
			if tt.prefix == "-" {
				want = tt.want + "\n"
			}
			if got := buf.String(); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			if _, err := parseLogfmt(buf.Bytes()); err != nil {
				t.Errorf("line does not parse back: %v", err)
			}
		})
	}
}

func TestLogfmtCallerAndStacktrace(t *testing.T) {
	l, buf := newTestLogger(t, grellog.FormatLogfmt, grellog.WithCaller(true))
	l.Info("hello")
	if !strings.Contains(buf.String(), " caller=logging/text_test.go:") {
		t.Errorf("no caller in %q", buf.String())
	}
	buf.Reset()
	func() {
		defer func() { _ = recover() }()
		l.Panic("boom")
	}()
	recs, err := parseLogfmt(buf.Bytes())
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v, err %v", recs, err)
	}
	if st := recs[0].get("stacktrace"); !strings.Contains(st, "\n") || !strings.Contains(st, "TestLogfmtCallerAndStacktrace") {
		t.Errorf("stacktrace %q", st)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Errorf("stack trace broke the line: %q", buf.String())
	}
}

func TestPrettyLines(t *testing.T) {
	local := testTime.Local().Format("15:04:05.000")
	tests := []struct {
		name  string
		color bool
		log   func(l *zap.Logger)
		want  string
	}{
		{"info", false, func(l *zap.Logger) {
			l.Info("lock acquired", zap.String("name", "cart"), zap.Duration("duration", time.Millisecond))
		},
			local + " INFO  lock acquired name=cart duration=1ms\n"},
		{"named, escaped message", false, func(l *zap.Logger) { l.Named("grel.lock").Warn("two\nlines", zap.String("k", "a b")) },
			local + ` WARN  grel.lock two\nlines k="a b"` + "\n"},
		{"coloured", true, func(l *zap.Logger) { l.Error("failed", zap.Error(errors.New("down"))) },
			"\x1b[90m" + local + "\x1b[0m \x1b[31mERROR\x1b[0m \x1b[1mfailed\x1b[0m \x1b[31merror\x1b[0m=down\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			color := grellog.ColorNever
			if tt.color {
				color = grellog.ColorAlways
			}
			l, buf := newTestLogger(t, grellog.FormatPretty, grellog.WithColor(color))
			tt.log(l)
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPrettyStacktraceOnItsOwnLines(t *testing.T) {
	l, buf := newTestLogger(t, grellog.FormatPretty, grellog.WithColor(grellog.ColorNever))
	func() {
		defer func() { _ = recover() }()
		l.Panic("boom")
	}()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "PANIC boom") {
		t.Fatalf("got %q", buf.String())
	}
}

func TestJSONKeys(t *testing.T) {
	l, buf := newTestLogger(t, grellog.FormatJSON)
	l.Named("grel").Info("hello", zap.String(grellog.FieldPattern, "lock"), zap.Duration(grellog.FieldDuration, 2*time.Second))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": "2026-01-02T03:04:05.678Z", "level": "info", "logger": "grel", "msg": "hello", "pattern": "lock", "duration": "2s"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("keys %v", got)
	}
}

// record is one parsed logfmt line, in order.
type record [][2]string

func (r record) get(k string) string {
	for _, kv := range r {
		if kv[0] == k {
			return kv[1]
		}
	}
	return "<missing>"
}

// parseLogfmt decodes lines with go-logfmt, the decoder Grafana Loki uses.
func parseLogfmt(b []byte) ([]record, error) {
	d := logfmt.NewDecoder(bytes.NewReader(b))
	var out []record
	for d.ScanRecord() {
		var r record
		for d.ScanKeyval() {
			r = append(r, [2]string{string(d.Key()), string(d.Value())})
		}
		out = append(out, r)
	}
	return out, d.Err()
}

// fixUTF8 is what the encoder promises for text: every invalid byte becomes
// U+FFFD.
func fixUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// logfmtKey is the key rule stated independently of the encoder.
func logfmtKey(k string) string {
	if k == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(k); {
		r, size := utf8.DecodeRuneInString(k[i:])
		switch {
		case r == utf8.RuneError && size == 1, r <= ' ', r == '=', r == '"', r == 0x7f, r >= 0x80 && !unicode.IsPrint(r):
			b.WriteByte('_')
		default:
			b.WriteString(k[i : i+size])
		}
		i += size
	}
	return b.String()
}

type fuzzObject struct{ k, v string }

func (o fuzzObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString(o.k, o.v)
	return nil
}

func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// FuzzLogfmtRoundTrip proves that every line the logfmt encoder writes is one
// line that go-logfmt parses back to the same keys and values.
func FuzzLogfmtRoundTrip(f *testing.F) {
	f.Add("hello", "k", "v", "inner", "x y", int64(42), 1.5, []byte("bytes"))
	f.Add("", "", "", "", "", int64(-1), math.Inf(1), []byte{})
	f.Add("a\nb", "a b", `"q"`, "=", "\\", int64(0), math.NaN(), []byte{0xff, 0xfe})
	f.Add("\x00\x1b[31m", "\xff", "\u2028", "é", "\xc3", int64(math.MinInt64), math.Copysign(0, -1), []byte("\t"))
	f.Fuzz(func(t *testing.T, msg, k1, v1, k2, v2 string, n int64, fl float64, bs []byte) {
		l, buf := newTestLogger(t, grellog.FormatLogfmt)
		l.Info(msg,
			zap.String(k1, v1),
			zap.Object("obj", fuzzObject{k2, v2}),
			zap.Int64("n", n),
			zap.Float64("f", fl),
			zap.ByteString("bs", bs),
			zap.Strings("arr", []string{v1, v2}),
			zap.Error(errors.New(v2)),
		)
		out := buf.Bytes()
		if bytes.IndexByte(out, '\n') != len(out)-1 {
			t.Fatalf("not exactly one line: %q", out)
		}
		recs, err := parseLogfmt(out)
		if err != nil {
			t.Fatalf("does not parse: %v\n%q", err, out)
		}
		if len(recs) != 1 {
			t.Fatalf("%d records in %q", len(recs), out)
		}
		want := record{
			{"time", "2026-01-02T03:04:05.678Z"},
			{"level", "info"},
			{"msg", fixUTF8(msg)},
			{logfmtKey(k1), fixUTF8(v1)},
			{"obj." + logfmtKey(k2), fixUTF8(v2)},
			{"n", strconv.FormatInt(n, 10)},
			{"f", floatText(fl)},
			{"bs", fixUTF8(string(bs))},
			{"arr", ""}, // JSON, checked below
			{"error", fixUTF8(v2)},
		}
		got := recs[0]
		if len(got) != len(want) {
			t.Fatalf("got %d pairs %q, want %d", len(got), got, len(want))
		}
		for i := range want {
			if want[i][0] == "arr" {
				var arr []string
				if err := json.Unmarshal([]byte(got[i][1]), &arr); err != nil {
					t.Fatalf("arr %q is not JSON: %v", got[i][1], err)
				}
				if len(arr) != 2 || arr[0] != fixUTF8(v1) || arr[1] != fixUTF8(v2) {
					t.Fatalf("arr = %q, want [%q %q]", arr, fixUTF8(v1), fixUTF8(v2))
				}
				continue
			}
			if got[i] != want[i] {
				t.Fatalf("pair %d: got %q, want %q\nline %q", i, got[i], want[i], out)
			}
		}
	})
}

// FuzzPrettyOneLine proves that the pretty format (without colours) writes
// each entry on one line with no control character in it.
func FuzzPrettyOneLine(f *testing.F) {
	f.Add("hello", "k", "v")
	f.Add("a\nb\x1b[2J", "\r", "\x00\xff")
	f.Fuzz(func(t *testing.T, msg, k, v string) {
		l, buf := newTestLogger(t, grellog.FormatPretty, grellog.WithColor(grellog.ColorNever))
		l.Named(v).Info(msg, zap.String(k, v), zap.Object("o", fuzzObject{k, v}))
		out := buf.Bytes()
		for i, c := range out {
			if (c < 0x20 || c == 0x7f) && (c != '\n' || i != len(out)-1) {
				t.Fatalf("control byte %#x at %d in %q", c, i, out)
			}
		}
		if !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
	})
}
