package providertest

import (
	"context"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// DownAnswer is what a [DownLimiter] answers on a store that is down, for
// one degradation: the mode of every answer and whether each of three
// calls is allowed.
type DownAnswer struct {
	Degradation grelratelimit.Degradation
	Mode        grelratelimit.Mode
	Allowed     []bool
}

// DownAnswers lists each degradation with its answers: fail_open allows,
// fail_closed refuses, fallback_local spends the local burst of 2.
var DownAnswers = []DownAnswer{
	{grelratelimit.FailOpen, grelratelimit.ModeFailOpen, []bool{true, true, true}},
	{grelratelimit.FailClosed, grelratelimit.ModeFailClosed, []bool{false, false, false}},
	{grelratelimit.FallbackLocal, grelratelimit.ModeLocal, []bool{true, true, false}},
}

// DownLimiter returns a limiter named name on b, reading no environment:
// a token bucket of burst 2 refilled once an hour, degradation d, the call
// timeout timeout, and the store tried at every call (no probe interval).
func DownLimiter(t testing.TB, name string, b grelratelimit.Backend, d grelratelimit.Degradation, timeout time.Duration) *grelratelimit.Limiter {
	t.Helper()
	l, err := grelratelimit.New(name, b, grelratelimit.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))),
		grelratelimit.WithBurst(2), grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour),
		grelratelimit.WithDegradation(d), grelratelimit.WithTimeout(timeout), grelratelimit.WithProbeInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// CheckDownCalls makes one call on key "k" per answer of want: each returns
// within timeout+slack, without error, allowed as want says, in want's mode.
func CheckDownCalls(t testing.TB, l *grelratelimit.Limiter, want DownAnswer, timeout, slack time.Duration) {
	t.Helper()
	for i, allowed := range want.Allowed {
		start := time.Now()
		r, err := l.Allow(context.Background(), "k")
		if elapsed := time.Since(start); elapsed > timeout+slack {
			t.Errorf("%s call %d took %v, past the %v timeout", want.Degradation, i, elapsed, timeout)
		}
		if err != nil || r.Allowed != allowed || r.Mode != want.Mode {
			t.Errorf("%s call %d: %+v, %v; want allowed %v in mode %v", want.Degradation, i, r, err, allowed, want.Mode)
		}
	}
}
