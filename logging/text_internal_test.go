package grellog

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx/fxevent"
)

func TestAppendDuration(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 999, time.Microsecond, 1500 * time.Nanosecond, time.Millisecond,
		1500 * time.Microsecond, time.Second, 90 * time.Second, time.Hour, time.Hour + 5*time.Second,
		-time.Minute, math.MaxInt64, math.MinInt64, 123456789 * time.Nanosecond} {
		if got, want := string(appendDuration(nil, d)), d.String(); got != want {
			t.Errorf("appendDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

// FuzzAppendDuration proves the allocation-free duration writer matches
// time.Duration.String.
func FuzzAppendDuration(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(math.MinInt64))
	f.Add(int64(1500000))
	f.Fuzz(func(t *testing.T, n int64) {
		d := time.Duration(n)
		if got, want := string(appendDuration(nil, d)), d.String(); got != want {
			t.Fatalf("appendDuration(%d) = %q, want %q", n, got, want)
		}
	})
}

func TestFailureLoggerPrintsOnlyFailures(t *testing.T) {
	var buf strings.Builder
	l := failureLogger{w: &buf}
	l.LogEvent(&fxevent.Provided{ConstructorName: "x"})
	l.LogEvent(&fxevent.Invoked{FunctionName: "f"})
	l.LogEvent(&fxevent.Invoked{FunctionName: "f", Err: errors.New("bad GREL_LOG_LEVEL")})
	l.LogEvent(&fxevent.Started{Err: errors.New("boom")})
	want := "fx: invoke failed: bad GREL_LOG_LEVEL\nfx: start failed: boom\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
