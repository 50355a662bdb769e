package grelbreaker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	"github.com/grelmicro/grelmicro-go/patterns/internal/configtest"
)

func TestConfigResolution(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []grelbreaker.Option
		check   func(grelbreaker.Config) bool
		wantErr string
		secret  string
	}{
		{name: "defaults", check: func(c grelbreaker.Config) bool {
			return c.Algorithm == grelbreaker.ConsecutiveFailures && c.FailureThreshold == 5 && c.OpenDuration == 30*time.Second &&
				c.HalfOpenMaxCalls == 1 && c.SuccessThreshold == 1 && c.Staleness == time.Second && c.StoreTimeout == 250*time.Millisecond &&
				c.OpenDurationFactor == 1 && c.MaxKeys == 1000
		}},
		{name: "instance beats kind", env: map[string]string{"GREL_BREAKER_FAILURE_THRESHOLD": "7", "GREL_BREAKER_PAY_FAILURE_THRESHOLD": "9"},
			check: func(c grelbreaker.Config) bool { return c.FailureThreshold == 9 }},
		{name: "durations", env: map[string]string{"GREL_BREAKER_PAY_OPEN_DURATION": "90", "GREL_BREAKER_STALENESS": "250ms"},
			check: func(c grelbreaker.Config) bool {
				return c.OpenDuration == 90*time.Second && c.Staleness == 250*time.Millisecond
			}},
		{name: "window fields with a window algorithm", opts: []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.CountWindow)},
			env: map[string]string{"GREL_BREAKER_PAY_WINDOW_SIZE": "50", "GREL_BREAKER_PAY_FAILURE_RATE": "25.5", "GREL_BREAKER_PAY_SLOW_CALL_DURATION": "2s"},
			check: func(c grelbreaker.Config) bool {
				return c.WindowSize == 50 && c.FailureRate == 25.5 && c.SlowCallDuration == 2*time.Second
			}},
		{name: "the environment never chooses the algorithm", env: map[string]string{"GREL_BREAKER_PAY_ALGORITHM": "time_window"},
			wantErr: "GREL_BREAKER_PAY_ALGORITHM (Algorithm): is chosen in code, never by a variable"},
		{name: "a window field for a consecutive breaker", env: map[string]string{"GREL_BREAKER_PAY_WINDOW_SIZE": "50"},
			wantErr: "GREL_BREAKER_PAY_WINDOW_SIZE (WindowSize): sets a field of the count_window algorithm, but this instance uses consecutive"},
		{name: "the threshold for a window breaker", env: map[string]string{"GREL_BREAKER_PAY_FAILURE_THRESHOLD": "3"},
			opts:    []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.TimeWindow)},
			wantErr: "GREL_BREAKER_PAY_FAILURE_THRESHOLD (FailureThreshold): sets a field of the consecutive algorithm"},
		{name: "bad value", env: map[string]string{"GREL_BREAKER_PAY_OPEN_DURATION": "soon-ish"}, secret: "soon-ish",
			wantErr: "GREL_BREAKER_PAY_OPEN_DURATION (OpenDuration): not a valid duration"},
		{name: "rate out of range", env: map[string]string{"GREL_BREAKER_PAY_FAILURE_RATE": "150"}, secret: "150",
			opts:    []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.CountWindow)},
			wantErr: "GREL_BREAKER_PAY_FAILURE_RATE (FailureRate): must be greater than 0 and at most 100"},
		{name: "min calls above the window", env: map[string]string{"GREL_BREAKER_PAY_MIN_CALLS": "200"},
			opts: []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.CountWindow)}, wantErr: "MinCalls must be at most WindowSize"},
		{name: "growing open duration needs its cap", env: map[string]string{"GREL_BREAKER_PAY_OPEN_DURATION_FACTOR": "2"},
			wantErr: "MaxOpenDuration must be at least OpenDuration when OpenDurationFactor is greater than 1"},
		{name: "buckets finer than a millisecond", env: map[string]string{"GREL_BREAKER_PAY_WINDOW": "5ms", "GREL_BREAKER_PAY_BUCKETS": "10"},
			opts: []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.TimeWindow)}, wantErr: "each of the Buckets slices of Window must be at least 1ms"},
		{name: "half-open cap bound", env: map[string]string{"GREL_BREAKER_PAY_HALF_OPEN_MAX_CALLS": "70000"}, secret: "70000",
			wantErr: "GREL_BREAKER_PAY_HALF_OPEN_MAX_CALLS (HalfOpenMaxCalls): must be between 1 and 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]grelbreaker.Option{grelbreaker.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(tt.env)))}, tt.opts...)
			b, err := grelbreaker.New("pay", nil, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "grelbreaker: ") || !errors.Is(err, grelconfig.ErrInvalid) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Fatalf("error %q repeats the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(b.Config()) {
				t.Fatalf("config %+v", b.Config())
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	cfg := grelbreaker.DefaultConfig()
	cfg.Algorithm = ""
	b, err := grelbreaker.NewFromConfig("x", nil, cfg, grelbreaker.WithFailureThreshold(2))
	if err != nil || b.Config().Algorithm != grelbreaker.ConsecutiveFailures || b.Config().FailureThreshold != 2 {
		t.Fatalf("%v %+v", err, b.Config())
	}
	cfg.OpenDuration = 0
	if _, err := grelbreaker.NewFromConfig("x", nil, cfg); err == nil || !strings.Contains(err.Error(), "config OpenDuration: must be greater than 0") {
		t.Fatalf("err %v", err)
	}
	if _, err := grelbreaker.NewGroupFromConfig("x", nil, cfg); err == nil {
		t.Fatal("group accepted a bad config")
	}
	if _, err := grelbreaker.New("***", nil, noEnv()); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestReloadFromRegistry(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_BREAKER_PAY_FAILURE_THRESHOLD": "4"}))
	b, err := grelbreaker.New("pay", nil, grelbreaker.WithRegistry(reg), grelbreaker.WithOpenDuration(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	unregister := reg.Register(b)
	defer unregister()
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_BREAKER_PAY_FAILURE_THRESHOLD": "8", "GREL_BREAKER_OPEN_DURATION": "1s"})); err != nil {
		t.Fatal(err)
	}
	// The option still wins over the environment after a reload.
	if c := b.Config(); c.FailureThreshold != 8 || c.OpenDuration != time.Minute {
		t.Fatalf("after reload %+v", c)
	}
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_BREAKER_PAY_FAILURE_THRESHOLD": "0"})); err == nil || b.Config().FailureThreshold != 8 {
		t.Fatalf("bad reload %v, %+v", err, b.Config())
	}
}

// FuzzConfig resolves arbitrary values of every variable: no panic, no
// value in an error message, and what resolves builds a working breaker.
func FuzzConfig(f *testing.F) {
	fields := []string{"FAILURE_THRESHOLD", "FAILURE_RATE", "MIN_CALLS", "WINDOW_SIZE", "WINDOW", "BUCKETS", "SLOW_CALL_DURATION",
		"SLOW_CALL_RATE", "OPEN_DURATION", "OPEN_DURATION_FACTOR", "MAX_OPEN_DURATION", "HALF_OPEN_MAX_CALLS", "SUCCESS_THRESHOLD",
		"STALENESS", "STORE_TIMEOUT", "MAX_KEYS", "ALGORITHM"}
	for i, seed := range []string{"5", "50.5", "1m", "0", "-3", "1e400", "NaN", "65536", "0.0001", "9223372036854775807s", "", "s3cr#t", "@@@"} {
		f.Add(uint8(i), uint8(i+3), uint8(i%3), seed, seed+"0")
	}
	algos := []grelbreaker.Algorithm{grelbreaker.ConsecutiveFailures, grelbreaker.CountWindow, grelbreaker.TimeWindow}
	f.Fuzz(func(t *testing.T, f1, f2, algo uint8, v1, v2 string) {
		a := algos[int(algo)%len(algos)]
		env := map[string]string{
			"GREL_BREAKER_FUZZ_" + fields[int(f1)%len(fields)]: v1,
			"GREL_BREAKER_" + fields[int(f2)%len(fields)]:      v2,
		}
		reg := grelconfig.NewRegistry(grelconfig.Map(env))
		b, err := grelbreaker.New("fuzz", nil, grelbreaker.WithRegistry(reg), grelbreaker.WithAlgorithm(a))
		if err != nil {
			for _, v := range []string{v1, v2} {
				if configtest.Leaks(err.Error(), v) {
					t.Fatalf("error %q repeats the value %q", err, v)
				}
			}
			return
		}
		if err := b.Config().Validate(); err != nil {
			t.Fatalf("resolved config invalid: %v", err)
		}
	})
}
