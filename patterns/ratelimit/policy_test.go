package grelratelimit_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

const ms = int64(time.Millisecond)

var (
	testBucket = grelratelimit.Policy{Algorithm: grelratelimit.TokenBucket, Limit: 10, Interval: 100 * time.Millisecond}
	testWindow = grelratelimit.Policy{Algorithm: grelratelimit.SlidingWindow, Limit: 10, Window: time.Second}
)

// grants simulates clients asking for n permits at the given instants
// (sorted) and returns the instants of every granted permit.
func grants(p grelratelimit.Policy, at []int64, n func(i int) int64) []int64 {
	var s grelratelimit.State
	var out []int64
	for i, now := range at {
		k := n(i)
		if d := p.Decide(&s, now, k, false); d.Allowed {
			for range k {
				out = append(out, now)
			}
		}
	}
	return out
}

// maxIn returns the most granted permits in any closed span [a, a+d].
func maxIn(granted []int64, d int64) int64 {
	best, j := 0, 0
	for i := range granted {
		for granted[i]-granted[j] > d {
			j++
		}
		best = max(best, i-j+1)
	}
	return int64(best)
}

func randomArrivals(r *rand.Rand, count int, span int64) []int64 {
	at := make([]int64, count)
	for i := range at {
		at[i] = 1 + r.Int64N(span)
	}
	slices.Sort(at)
	return at
}

func TestTokenBucketNeverExceedsBurstPlusRate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := testBucket
	for trial := range 200 {
		at := randomArrivals(r, 400, 5*int64(time.Second))
		granted := grants(p, at, func(int) int64 { return 1 + r.Int64N(3) })
		for _, d := range []int64{0, 50 * ms, 100 * ms, 250 * ms, 1000 * ms, 3000 * ms} {
			bound := p.Limit + d/int64(p.Interval)
			if got := maxIn(granted, d); got > bound {
				t.Fatalf("trial %d: %d permits within %v, bound %d", trial, got, time.Duration(d), bound)
			}
		}
	}
}

// TestSlidingWindowBound checks the precision doc.go states, on random
// traffic and on the adversarial pattern that approaches it.
func TestSlidingWindowBound(t *testing.T) {
	p := testWindow
	w, limit := int64(p.Window), p.Limit
	check := func(t *testing.T, granted []int64) {
		t.Helper()
		for _, frac := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.99, 1} {
			d := int64(frac * float64(w))
			bound := int64(math.Floor(float64(limit) * (1 + frac)))
			if got := maxIn(granted, d); got > bound {
				t.Fatalf("%d permits within %v, bound L(1+d/W) = %d", got, time.Duration(d), bound)
			}
		}
		for _, k := range []int64{2, 3, 5} {
			d := k * w
			if got, bound := maxIn(granted, d), limit*(k+1); got > bound {
				t.Fatalf("%d permits within %v, bound L(ceil(d/W)+1) = %d", got, time.Duration(d), bound)
			}
		}
	}
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for range 200 {
			at := randomArrivals(r, 300, 6*w)
			check(t, grants(p, at, func(int) int64 { return 1 + r.Int64N(2) }))
		}
	})
	t.Run("bursts_at_window_ends", func(t *testing.T) {
		// A full burst at the very end of the first window, then requests
		// every millisecond: the span of one Window that holds the first
		// burst holds close to 2 x Limit, never 2 x Limit.
		at := []int64{1}
		for range limit - 1 {
			at = append(at, w)
		}
		for x := w + ms; x < 3*w; x += ms {
			at = append(at, x)
		}
		// The first request anchors the windows at 1ns.
		granted := grants(p, at, func(int) int64 { return 1 })
		check(t, granted)
		if got := maxIn(granted, w-1); got < 2*limit-2 || got >= 2*limit {
			t.Errorf("adversarial pattern: %d permits within one Window, want just under 2 x Limit = %d", got, 2*limit)
		}
		if got := maxIn(granted, 10*ms); got > limit+1 {
			t.Errorf("adversarial pattern: %d permits within 10ms across a boundary, want at most Limit(1+0.01) = %d", got, limit)
		}
	})
	t.Run("uniform_previous_window_is_exact", func(t *testing.T) {
		// The previous window evenly spread: the estimate is the exact
		// count, so at most Limit in any span of one Window.
		var at []int64
		for x := int64(1); x < 5*w; x += w / limit {
			at = append(at, x)
		}
		if got := maxIn(grants(p, at, func(int) int64 { return 1 }), w-1); got > limit {
			t.Errorf("evenly spread traffic: %d permits within one Window, want at most %d", got, limit)
		}
	})
}

// TestDecisionFieldsAreExact checks every field's definition against
// further decisions, on random states of both algorithms.
func TestDecisionFieldsAreExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range []grelratelimit.Policy{testBucket, testWindow} {
		t.Run(string(p.Algorithm), func(t *testing.T) {
			for trial := range 2000 {
				var s grelratelimit.State
				now := 1 + r.Int64N(int64(time.Second))
				for range r.IntN(30) {
					now += r.Int64N(int64(200 * time.Millisecond))
					p.Decide(&s, now, 1+r.Int64N(3), false)
				}
				now += r.Int64N(int64(100 * time.Millisecond))
				n := 1 + r.Int64N(p.Limit)
				peekAt := func(at, k int64) grelratelimit.Decision { c := s; return p.Decide(&c, at, k, true) }
				d := peekAt(now, n)
				// Remaining: the largest k that would be granted now.
				if d.Remaining < p.Limit && peekAt(now, d.Remaining+1).Allowed {
					t.Fatalf("trial %d: Remaining %d, but %d more would be granted", trial, d.Remaining, d.Remaining+1)
				}
				if d.Remaining > 0 && !peekAt(now, d.Remaining).Allowed {
					t.Fatalf("trial %d: Remaining %d would be refused", trial, d.Remaining)
				}
				if d.Allowed != (n <= d.Remaining) {
					t.Fatalf("trial %d: Allowed %v for n=%d with Remaining %d", trial, d.Allowed, n, d.Remaining)
				}
				// RetryAfter: granted from then on, not a microsecond before.
				if !d.Allowed {
					at := now + int64(d.RetryAfter)
					if !peekAt(at, n).Allowed {
						t.Fatalf("trial %d: refused again after RetryAfter %v", trial, d.RetryAfter)
					}
					if d.RetryAfter > time.Microsecond && peekAt(at-int64(time.Microsecond), n).Allowed {
						t.Fatalf("trial %d: already granted 1µs before RetryAfter %v", trial, d.RetryAfter)
					}
				} else if d.RetryAfter != 0 {
					t.Fatalf("trial %d: allowed with RetryAfter %v", trial, d.RetryAfter)
				}
				// ResetAfter: the full Limit from then on, not before.
				if full := peekAt(now+int64(d.ResetAfter), 1); full.Remaining != p.Limit {
					t.Fatalf("trial %d: Remaining %d after ResetAfter %v, want %d", trial, full.Remaining, d.ResetAfter, p.Limit)
				}
				if d.ResetAfter > time.Microsecond && peekAt(now+int64(d.ResetAfter-time.Microsecond), 1).Remaining == p.Limit {
					t.Fatalf("trial %d: full 1µs before ResetAfter %v", trial, d.ResetAfter)
				}
				// Expiry: from then on, the state is the same as none.
				if e := p.Expiry(s); e != 0 {
					at := max(e, now)
					fresh := grelratelimit.State{}
					if got, want := peekAt(at, n), p.Decide(&fresh, at, n, true); got != want {
						t.Fatalf("trial %d: at Expiry %+v, want the fresh %+v", trial, got, want)
					}
				}
			}
		})
	}
}

func TestDecideRefusesMoreThanTheLimit(t *testing.T) {
	for _, p := range []grelratelimit.Policy{testBucket, testWindow} {
		var s grelratelimit.State
		d := p.Decide(&s, 1, p.Limit+1, false)
		if d.Allowed || d.RetryAfter != grelratelimit.Never || d.Remaining != p.Limit || s != (grelratelimit.State{}) {
			t.Errorf("%s: Decide(Limit+1) = %+v, state %+v; want refused, Never, full, nothing stored", p.Algorithm, d, s)
		}
	}
}

func TestDecideToleratesAClockThatGoesBack(t *testing.T) {
	for _, p := range []grelratelimit.Policy{testBucket, testWindow} {
		var s grelratelimit.State
		for range p.Limit {
			p.Decide(&s, int64(time.Hour), 1, false)
		}
		if d := p.Decide(&s, int64(time.Hour)-int64(time.Minute), 1, false); d.Allowed {
			t.Errorf("%s: a decision a minute in the past was granted beyond the limit", p.Algorithm)
		}
	}
}
