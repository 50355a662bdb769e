package configtest

import "testing"

func TestLeaks(t *testing.T) {
	tests := []struct {
		msg, v string
		want   bool
	}{
		{msg: `grelretry: GREL_RETRY_FACTOR: invalid value "s3cr#t"`, v: "s3cr#t", want: true},
		{msg: "grelretry: GREL_RETRY_FACTOR: must be at least 1", v: "s3cr#t", want: false},
		{msg: "grelbreaker: GREL_BREAKER_WINDOW_SIZE: must be between 1 and 65536", v: "6553", want: false},
		{msg: "x: bad value a!", v: "a!", want: false}, // too short to tell
		{msg: "x: must be at most 10ms", v: "10ms", want: false},
		{msg: "x: got 1e400%", v: "1e400%", want: true},
	}
	for _, tt := range tests {
		if got := Leaks(tt.msg, tt.v); got != tt.want {
			t.Errorf("Leaks(%q, %q) = %v, want %v", tt.msg, tt.v, got, tt.want)
		}
	}
}
