package grellog

import (
	"math"
	"testing"
	"time"
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
