package grellock_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

func TestConfigResolution(t *testing.T) {
	reg := func(m map[string]string) grellock.Option {
		return grellock.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(m)))
	}
	tests := []struct {
		name string
		env  map[string]string
		opts []grellock.Option
		want func(grellock.Config) bool
		err  string // substring of the error; the value must never appear
	}{
		{"defaults", nil, nil, func(c grellock.Config) bool {
			return c.LeaseDuration == time.Minute && c.RetryInterval == 100*time.Millisecond && c.Jitter == 0.2 && !c.AutoRenew && c.Worker != ""
		}, ""},
		{"instance beats kind", map[string]string{"GREL_LOCK_CART_LEASE_DURATION": "5s", "GREL_LOCK_LEASE_DURATION": "9s"}, nil,
			func(c grellock.Config) bool { return c.LeaseDuration == 5*time.Second }, ""},
		{"kind variable", map[string]string{"GREL_LOCK_RETRY_INTERVAL": "0.5", "GREL_LOCK_AUTO_RENEW": "yes", "GREL_LOCK_WORKER": "pod-7"}, nil,
			func(c grellock.Config) bool {
				return c.RetryInterval == 500*time.Millisecond && c.AutoRenew && c.Worker == "pod-7"
			}, ""},
		{"option beats variable", map[string]string{"GREL_LOCK_CART_LEASE_DURATION": "5s"}, []grellock.Option{grellock.WithLeaseDuration(7 * time.Second)},
			func(c grellock.Config) bool { return c.LeaseDuration == 7*time.Second }, ""},
		{"GREL_ENV_LOAD=false", map[string]string{"GREL_ENV_LOAD": "false", "GREL_LOCK_LEASE_DURATION": "5s"}, nil,
			func(c grellock.Config) bool { return c.LeaseDuration == time.Minute }, ""},
		{"bad duration", map[string]string{"GREL_LOCK_CART_LEASE_DURATION": "secret-ish-42x"}, nil, nil, "GREL_LOCK_CART_LEASE_DURATION"},
		{"lease too short", map[string]string{"GREL_LOCK_LEASE_DURATION": "1ms"}, nil, nil, "GREL_LOCK_LEASE_DURATION"},
		{"jitter out of range", map[string]string{"GREL_LOCK_CART_JITTER": "1.5"}, nil, nil, "GREL_LOCK_CART_JITTER"},
		{"option for another pattern", nil, []grellock.Option{grellock.WithMinHold(time.Second)}, nil, "WithMinHold does not apply to a Lock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := grellock.New("cart", grellock.NewMemory(), append([]grellock.Option{reg(tc.env)}, tc.opts...)...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %q", err, tc.err)
				}
				for _, v := range tc.env {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q repeats the value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(l.Config()) {
				t.Errorf("config %+v", l.Config())
			}
		})
	}
}

func TestElectionConfigRules(t *testing.T) {
	tests := []struct {
		name                string
		lease, renew, retry time.Duration
		err                 string
	}{
		{"defaults hold", 15 * time.Second, 10 * time.Second, 2 * time.Second, ""},
		{"lease equal to renew", 10 * time.Second, 10 * time.Second, 2 * time.Second, "LeaseDuration must be greater than RenewDeadline"},
		// SafetyMargin(10s) = 102ms.
		{"gap below the safety margin", 10 * time.Second, 9900 * time.Millisecond, 2 * time.Second, "LeaseDuration must exceed RenewDeadline by at least SafetyMargin(LeaseDuration)"},
		{"gap equal to the safety margin", 10 * time.Second, 9898 * time.Millisecond, 2 * time.Second, ""},
		{"renew below 1.2 x retry", 15 * time.Second, 2400 * time.Millisecond, 2 * time.Second, "RenewDeadline must be greater than RetryInterval x 1.2"},
		{"renew just above 1.2 x retry", 15 * time.Second, 2401 * time.Millisecond, 2 * time.Second, ""},
		{"zero retry", 15 * time.Second, 10 * time.Second, 0, "RetryInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := grellock.DefaultElectionConfig()
			cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryInterval = tc.lease, tc.renew, tc.retry
			_, err := grellock.NewLeaderElectionFromConfig("leader", grellock.NewMemory(), cfg)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, grelconfig.ErrInvalid) {
				t.Fatalf("error %v, want grelconfig.ErrInvalid containing %q", err, tc.err)
			}
		})
	}
}

func TestFromConfigAppliesOptionsAndReadsNoEnvironment(t *testing.T) {
	t.Setenv("GREL_TASKLOCK_REPORT_MIN_HOLD", "42s")
	cfg := grellock.DefaultTaskConfig()
	cfg.LeaseDuration = 30 * time.Second
	tl, err := grellock.NewTaskLockFromConfig("report", grellock.NewMemory(), cfg, grellock.WithMinHold(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := tl.Config(); got.LeaseDuration != 30*time.Second || got.MinHold != 3*time.Second {
		t.Errorf("config %+v", got)
	}
	if _, err := grellock.NewFromConfig("cart", grellock.NewMemory(), grellock.Config{}); !errors.Is(err, grelconfig.ErrInvalid) {
		t.Errorf("zero Config accepted: %v", err)
	}
}

func TestConstructorErrors(t *testing.T) {
	if _, err := grellock.New("", grellock.NewMemory(), noEnv); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := grellock.New("---", grellock.NewMemory(), noEnv); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("name without letters: %v", err)
	}
	if _, err := grellock.New("cart", nil, noEnv); err == nil {
		t.Error("nil backend accepted")
	}
	if _, err := grellock.NewLeaderElection("leader", grellock.NewMemory(), noEnv, grellock.WithMinHold(time.Second)); err == nil ||
		!strings.Contains(err.Error(), "WithMinHold does not apply to a LeaderElection") {
		t.Errorf("misapplied option: %v", err)
	}
}
