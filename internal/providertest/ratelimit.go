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

// DecideIdleAndLive makes one decision on each of 20 keys of the limiter
// "sweep" on b: 10 on a token bucket of 5 refilled every 10ms, idle (their
// state the same as none) by the time it returns, and 10 on a sliding
// window of an hour, still live. A sweep then deletes exactly 10 rows.
func DecideIdleAndLive(t testing.TB, b grelratelimit.Backend) {
	t.Helper()
	short := grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 5, Interval: 10 * time.Millisecond}
	long := grelratelimit.Policy{Algorithm: grelratelimit.SlidingWindow, Limit: 5, Window: time.Hour}
	for i := range 20 {
		p := short
		if i%2 == 1 {
			p = long
		}
		if _, err := b.Decide(context.Background(), grelratelimit.Request{Name: "sweep", Key: string(rune('a' + i)), N: 1, Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
}
