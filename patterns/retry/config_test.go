package grelretry_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/configtest"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
)

func TestConfigResolution(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []grelretry.Option
		check   func(grelretry.Config) bool
		wantErr string // substring; "" for no error
		secret  string // a value that must not appear in the error
	}{
		{name: "defaults", check: func(c grelretry.Config) bool {
			return c.Algorithm == grelretry.Exponential && c.MaxAttempts == 3 && c.InitialDelay == 100*time.Millisecond &&
				c.MaxDelay == 10*time.Second && c.Factor == 2 && c.Jitter == grelretry.JitterEqual && c.MaxElapsed == 0
		}},
		{name: "instance beats kind", env: map[string]string{"GREL_RETRY_MAX_ATTEMPTS": "5", "GREL_RETRY_PAY_MAX_ATTEMPTS": "9"},
			check: func(c grelretry.Config) bool { return c.MaxAttempts == 9 }},
		{name: "kind applies", env: map[string]string{"GREL_RETRY_MAX_ELAPSED": "1m30s", "GREL_RETRY_FACTOR": "1.5"},
			check: func(c grelretry.Config) bool { return c.MaxElapsed == 90*time.Second && c.Factor == 1.5 }},
		{name: "bare seconds", env: map[string]string{"GREL_RETRY_PAY_INITIAL_DELAY": "0.25"},
			check: func(c grelretry.Config) bool { return c.InitialDelay == 250*time.Millisecond }},
		{name: "option beats env", env: map[string]string{"GREL_RETRY_PAY_MAX_ATTEMPTS": "9"}, opts: []grelretry.Option{grelretry.WithMaxAttempts(2)},
			check: func(c grelretry.Config) bool { return c.MaxAttempts == 2 }},
		{name: "jitter", env: map[string]string{"GREL_RETRY_PAY_JITTER": "FULL"},
			check: func(c grelretry.Config) bool { return c.Jitter == grelretry.JitterFull }},
		{name: "the environment never chooses the algorithm", env: map[string]string{"GREL_RETRY_PAY_ALGORITHM": "constant"},
			wantErr: "GREL_RETRY_PAY_ALGORITHM (Algorithm): is chosen in code, never by a variable"},
		{name: "bad value names the variable, not the value", env: map[string]string{"GREL_RETRY_PAY_MAX_ATTEMPTS": "hunter2"},
			wantErr: "GREL_RETRY_PAY_MAX_ATTEMPTS (MaxAttempts): not a valid integer", secret: "hunter2"},
		{name: "rule", env: map[string]string{"GREL_RETRY_PAY_FACTOR": "0.5"}, wantErr: "GREL_RETRY_PAY_FACTOR (Factor): must be at least 1", secret: "0.5"},
		{name: "negative", env: map[string]string{"GREL_RETRY_MAX_ELAPSED": "-1s"}, wantErr: "GREL_RETRY_MAX_ELAPSED (MaxElapsed): must not be negative", secret: "-1s"},
		{name: "field of another algorithm at the instance address", env: map[string]string{"GREL_RETRY_PAY_DELAY": "1s"},
			wantErr: "GREL_RETRY_PAY_DELAY (Delay): sets a field of the constant algorithm, but this instance uses exponential"},
		{name: "field of another algorithm at the kind address is for other instances", env: map[string]string{"GREL_RETRY_DELAY": "1s"},
			check: func(c grelretry.Config) bool { return c.Delay == 100*time.Millisecond }},
		{name: "constant takes DELAY", env: map[string]string{"GREL_RETRY_PAY_DELAY": "2s"}, opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant)},
			check: func(c grelretry.Config) bool { return c.Delay == 2*time.Second }},
		{name: "constant refuses FACTOR", env: map[string]string{"GREL_RETRY_PAY_FACTOR": "3"}, opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant)},
			wantErr: "GREL_RETRY_PAY_FACTOR (Factor): sets a field of the exponential algorithm"},
		{name: "random refuses JITTER", env: map[string]string{"GREL_RETRY_PAY_JITTER": "full"}, opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Random)},
			wantErr: "GREL_RETRY_PAY_JITTER (Jitter): sets a field of the constant or linear or exponential or fibonacci algorithm"},
		{name: "unbounded attempts need max elapsed", env: map[string]string{"GREL_RETRY_PAY_MAX_ATTEMPTS": "0"},
			wantErr: "MaxElapsed must be greater than 0 when MaxAttempts is 0"},
		{name: "cap below the first wait", env: map[string]string{"GREL_RETRY_PAY_MAX_DELAY": "10ms"},
			wantErr: "MaxDelay must be at least InitialDelay", secret: "10ms"},
		{name: "random range", env: map[string]string{"GREL_RETRY_PAY_MIN_DELAY": "5s", "GREL_RETRY_PAY_MAX_DELAY": "1s"}, opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Random)},
			wantErr: "MaxDelay must be at least MinDelay"},
		{name: "env off", env: map[string]string{"GREL_ENV_LOAD": "false", "GREL_RETRY_PAY_MAX_ATTEMPTS": "9"},
			check: func(c grelretry.Config) bool { return c.MaxAttempts == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]grelretry.Option{grelretry.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(tt.env)))}, tt.opts...)
			r, err := grelretry.New("pay", opts...)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("New succeeded, want an error with %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "grelretry: ") || !errors.Is(err, grelconfig.ErrInvalid) {
					t.Fatalf("error %q, want it to start with grelretry: and contain %q", err, tt.wantErr)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Fatalf("error %q repeats the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r.Config()) {
				t.Fatalf("config %+v", r.Config())
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	cfg := grelretry.DefaultConfig()
	cfg.Algorithm = grelretry.Constant
	cfg.Delay = time.Second
	r, err := grelretry.NewFromConfig("x", cfg, grelretry.WithMaxAttempts(7))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Config(); got.Delay != time.Second || got.MaxAttempts != 7 || got.Algorithm != grelretry.Constant {
		t.Fatalf("config %+v", got)
	}
	// A zero algorithm means the default.
	cfg = grelretry.DefaultConfig()
	cfg.Algorithm = ""
	if r, err := grelretry.NewFromConfig("", cfg); err != nil || r.Config().Algorithm != grelretry.Exponential {
		t.Fatalf("zero algorithm: %v", err)
	}
	cfg.MaxAttempts = -1
	if _, err := grelretry.NewFromConfig("x", cfg); err == nil || !strings.Contains(err.Error(), "config MaxAttempts: must not be negative") {
		t.Fatalf("err = %v", err)
	}
	cfg = grelretry.DefaultConfig()
	cfg.Algorithm = "quadratic"
	if _, err := grelretry.NewFromConfig("x", cfg); err == nil {
		t.Fatal("an unknown algorithm was accepted")
	}
	if _, err := grelretry.NewFromConfig("!!!", grelretry.DefaultConfig()); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := grelretry.New("---", noEnv()); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

// FuzzConfig feeds arbitrary values to every variable: resolution never
// panics, and a refusal never repeats the value.
func FuzzConfig(f *testing.F) {
	fields := []string{"MAX_ATTEMPTS", "MAX_ELAPSED", "DELAY", "INITIAL_DELAY", "MIN_DELAY", "MAX_DELAY", "FACTOR", "JITTER", "ALGORITHM"}
	for i, seed := range []string{"3", "1m30s", "0.5", "-1", "NaN", "1e309", "full", "9223372036854775807", "0x10", "", " 2 ", "pa$$word", "#1s"} {
		f.Add(uint8(i), uint8(i%5), seed, true)
	}
	algos := []grelretry.Algorithm{grelretry.Constant, grelretry.Linear, grelretry.Exponential, grelretry.Fibonacci, grelretry.Random}
	f.Fuzz(func(t *testing.T, field, algo uint8, value string, instance bool) {
		name := "GREL_RETRY_" + fields[int(field)%len(fields)]
		if instance {
			name = "GREL_RETRY_FUZZ_" + fields[int(field)%len(fields)]
		}
		a := algos[int(algo)%len(algos)]
		src := grelconfig.Map(map[string]string{name: value})
		cfg, err := grelretry.Spec().ResolveFrom(src, "fuzz", grelretry.WithAlgorithmSetting(a))
		if err != nil {
			if configtest.Leaks(err.Error(), value) {
				t.Fatalf("error %q repeats the value %q", err, value)
			}
			return
		}
		if cfg.Validate() != nil {
			t.Fatalf("resolved config does not validate: %+v", cfg)
		}
		// A resolved config builds a retrier.
		if _, err := grelretry.NewFromConfig("fuzz", cfg); err != nil {
			t.Fatalf("NewFromConfig(resolved) = %v", err)
		}
	})
}
