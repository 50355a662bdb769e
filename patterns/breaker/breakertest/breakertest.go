// Package breakertest is the conformance suite of grelbreaker.Backend:
// every adapter runs it against its real store, and the memory backend runs
// it too, so that all of them keep the same state machine.
//
//	func TestBreakerBackend(t *testing.T) {
//		breakertest.Run(t, func(t *testing.T) grelbreaker.Backend {
//			return grelredis.NewBreakerBackend(client, grelredis.WithBreakerPrefix(env.Prefix))
//		})
//	}
//
// The suite runs in real time with short durations (a few hundred
// milliseconds per timed case). Backends whose clock is the process's own
// (the memory backend) also run [RunSynctest], which runs every case in a
// testing/synctest bubble.
package breakertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
)

// Unit is the time unit of the timed cases: open durations and windows are
// small multiples of it.
const Unit = 100 * time.Millisecond

// Run runs the suite in real time. newBackend returns a Backend on a store
// of its own or on a shared one: every case uses keys of its own.
func Run(t *testing.T, newBackend func(t *testing.T) grelbreaker.Backend) {
	run(t, newBackend, false)
}

// RunSynctest runs the suite with every case in a testing/synctest bubble,
// for backends that use the process's clock.
func RunSynctest(t *testing.T, newBackend func(t *testing.T) grelbreaker.Backend) {
	run(t, newBackend, true)
}

func run(t *testing.T, newBackend func(t *testing.T) grelbreaker.Backend, bubble bool) {
	cases := append(stepCases(), otherCases()...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := func(t *testing.T) {
				e := &env{t: t, b: newBackend(t), key: fmt.Sprintf("breakertest:%s:%d", t.Name(), rand.Uint64()), bubble: bubble}
				c.fn(e)
			}
			if bubble {
				synctest.Test(t, body)
			} else {
				body(t)
			}
		})
	}
}

type env struct {
	t      *testing.T
	b      grelbreaker.Backend
	key    string
	bubble bool
}

func (e *env) ctx() context.Context { return context.Background() }

type testCase struct {
	name string
	fn   func(e *env)
}

// config returns a valid config with the given changes.
func config(algo grelbreaker.Algorithm, change func(c *grelbreaker.Config)) *grelbreaker.Config {
	c := grelbreaker.DefaultConfig()
	c.Algorithm = algo
	c.OpenDuration = 3 * Unit
	if change != nil {
		change(&c)
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return &c
}

// op is one step of a case.
type op int

const (
	opAllow op = iota
	opSuccess
	opFailure
	opIgnored
	opSlowSuccess
	opSlowFailure
	opStaleSuccess // a success of the generation before the last Allow's
	opStaleFailure
	opMark          // remember the generation of the last admitted Allow
	opMarkedFailure // a failure of the generation opMark remembered
	opWait
	opLoad
	opSetOpen
	opSetClosed
	opSetForced
	opConfig // switch to the step's config
)

func (o op) String() string {
	return [...]string{"allow", "success", "failure", "ignored", "slow success", "slow failure",
		"stale success", "stale failure", "mark", "marked failure", "wait", "load", "set open", "set closed", "set forced open", "config"}[o]
}

// step is one operation and what must hold after it.
type step struct {
	op op
	// wait is the time to wait (opWait).
	wait time.Duration
	// cfg replaces the config from this step on (opConfig).
	cfg *grelbreaker.Config
	// admitted is the expected answer of an Allow.
	admitted bool
	// state is the expected state after the step.
	state grelbreaker.State
	// changed is the expected Changed of the step's answer.
	changed bool
	// check runs extra checks on the answer.
	check func(t *testing.T, s grelbreaker.Snapshot)
}

func steps(name string, cfg *grelbreaker.Config, ss ...step) testCase {
	return testCase{name: name, fn: func(e *env) { e.play(cfg, ss) }}
}

func (e *env) play(cfg *grelbreaker.Config, ss []step) {
	t := e.t
	t.Helper()
	var gen, prevGen, marked uint64
	for i, s := range ss {
		var snap grelbreaker.Snapshot
		var err error
		admitted := false
		switch s.op {
		case opAllow:
			var a grelbreaker.Admission
			a, err = e.b.Allow(e.ctx(), e.key, cfg)
			snap, admitted = a.Snapshot, a.Admitted
			if a.Admitted {
				prevGen, gen = gen, a.Generation
			}
		case opMark:
			marked = gen
			snap, err = e.b.Load(e.ctx(), e.key, cfg)
		case opSuccess, opFailure, opIgnored, opSlowSuccess, opSlowFailure, opStaleSuccess, opStaleFailure, opMarkedFailure:
			rec := grelbreaker.Record{Generation: gen, Outcome: grelbreaker.OutcomeSuccess}
			switch s.op {
			case opFailure, opSlowFailure, opStaleFailure, opMarkedFailure:
				rec.Outcome = grelbreaker.OutcomeFailure
			case opIgnored:
				rec.Outcome = grelbreaker.OutcomeIgnored
			}
			rec.Slow = s.op == opSlowSuccess || s.op == opSlowFailure
			switch s.op {
			case opStaleSuccess, opStaleFailure:
				rec.Generation = prevGen
			case opMarkedFailure:
				rec.Generation = marked
			}
			snap, err = e.b.Record(e.ctx(), e.key, cfg, rec)
		case opWait:
			time.Sleep(s.wait)
			snap, err = e.b.Load(e.ctx(), e.key, cfg)
		case opLoad:
			snap, err = e.b.Load(e.ctx(), e.key, cfg)
		case opSetOpen, opSetClosed, opSetForced:
			to := map[op]grelbreaker.State{opSetOpen: grelbreaker.StateOpen, opSetClosed: grelbreaker.StateClosed, opSetForced: grelbreaker.StateForcedOpen}[s.op]
			snap, err = e.b.Set(e.ctx(), e.key, cfg, to)
		case opConfig:
			cfg = s.cfg
			snap, err = e.b.Load(e.ctx(), e.key, cfg)
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i+1, s.op, err)
		}
		if s.op == opAllow && admitted != s.admitted {
			t.Fatalf("step %d (%s): admitted = %v, want %v (state %s)", i+1, s.op, admitted, s.admitted, snap.State)
		}
		if snap.State != s.state {
			t.Fatalf("step %d (%s): state = %s, want %s (counts %+v)", i+1, s.op, snap.State, s.state, snap.Counts)
		}
		loads := s.op == opWait || s.op == opLoad || s.op == opConfig || s.op == opMark
		if !loads && snap.Changed != s.changed {
			t.Fatalf("step %d (%s): changed = %v, want %v", i+1, s.op, snap.Changed, s.changed)
		}
		if loads && snap.Changed {
			t.Fatalf("step %d (%s): Load reported a change", i+1, s.op)
		}
		if snap.Changed && snap.Last.To != snap.State {
			t.Fatalf("step %d (%s): Last.To = %s, state %s", i+1, s.op, snap.Last.To, snap.State)
		}
		if s.check != nil {
			s.check(t, snap)
		}
	}
}

// call is an Allow that is admitted followed by an outcome, in one state.
func call(outcome op, st grelbreaker.State) []step {
	return []step{{op: opAllow, admitted: true, state: st}, {op: outcome, state: st}}
}

var (
	closed   = grelbreaker.StateClosed
	open     = grelbreaker.StateOpen
	halfOpen = grelbreaker.StateHalfOpen
	forced   = grelbreaker.StateForcedOpen
)

func counts(want func(c grelbreaker.Counts) bool, desc string) func(t *testing.T, s grelbreaker.Snapshot) {
	return func(t *testing.T, s grelbreaker.Snapshot) {
		t.Helper()
		if !want(s.Counts) {
			t.Fatalf("counts %+v: want %s", s.Counts, desc)
		}
	}
}

func lastCounts(want func(c grelbreaker.Counts) bool, desc string) func(t *testing.T, s grelbreaker.Snapshot) {
	return func(t *testing.T, s grelbreaker.Snapshot) {
		t.Helper()
		if !want(s.Last.Counts) {
			t.Fatalf("counts before the transition %+v: want %s", s.Last.Counts, desc)
		}
	}
}

func remaining(lo, hi time.Duration) func(t *testing.T, s grelbreaker.Snapshot) {
	return func(t *testing.T, s grelbreaker.Snapshot) {
		t.Helper()
		if s.OpenRemaining <= lo || s.OpenRemaining > hi {
			t.Fatalf("open remaining %v, want in (%v, %v]", s.OpenRemaining, lo, hi)
		}
	}
}

// staleAfterClose admits six calls in the closed state, opens, closes
// through a trial, and only then records the six calls' failures: they
// belong to a generation three transitions old, so neither the counts nor
// the window of the new closed generation may see them, and one fresh
// failure must not trip.
func staleAfterClose(due time.Duration) []step {
	var ss []step
	for range 6 {
		ss = append(ss, step{op: opAllow, admitted: true, state: closed})
	}
	ss = append(ss,
		step{op: opMark, state: closed},
		step{op: opSetOpen, state: open, changed: true},
		step{op: opWait, wait: due, state: open},
		step{op: opAllow, admitted: true, state: halfOpen, changed: true},
		step{op: opSuccess, state: closed, changed: true})
	for range 6 {
		ss = append(ss, step{op: opMarkedFailure, state: closed})
	}
	none := counts(func(c grelbreaker.Counts) bool {
		return c.Failures == 0 && c.Successes == 0 && c.WindowCalls == 0 && c.WindowFailures == 0
	}, "no outcome of the old generation")
	one := counts(func(c grelbreaker.Counts) bool {
		return c.Failures == 1 && c.Successes == 0 && c.WindowCalls == 1 && c.WindowFailures == 1
	}, "the one fresh failure only")
	return append(ss,
		step{op: opLoad, state: closed, check: none},
		step{op: opAllow, admitted: true, state: closed},
		step{op: opFailure, state: closed, check: one},
		step{op: opLoad, state: closed, check: one})
}

// tripConsecutive trips a 3-failure consecutive breaker.
func tripConsecutive() []step {
	return slices.Concat(call(opFailure, closed), call(opFailure, closed),
		[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}})
}

func stepCases() []testCase {
	consec := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) { c.FailureThreshold = 3 })
	halfCap := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) {
		c.FailureThreshold = 3
		c.HalfOpenMaxCalls = 2
		c.SuccessThreshold = 3
	})
	count := config(grelbreaker.CountWindow, func(c *grelbreaker.Config) { c.WindowSize, c.MinCalls, c.FailureRate = 4, 4, 50 })
	slide := config(grelbreaker.CountWindow, func(c *grelbreaker.Config) { c.WindowSize, c.MinCalls, c.FailureRate = 4, 4, 75 })
	timed := config(grelbreaker.TimeWindow, func(c *grelbreaker.Config) {
		c.Window, c.Buckets, c.MinCalls, c.FailureRate = 4*Unit, 4, 3, 50
	})
	timedMin4 := config(grelbreaker.TimeWindow, func(c *grelbreaker.Config) {
		c.Window, c.Buckets, c.MinCalls, c.FailureRate = 8*Unit, 4, 4, 50
	})
	slow := config(grelbreaker.CountWindow, func(c *grelbreaker.Config) {
		c.WindowSize, c.MinCalls, c.FailureRate, c.SlowCallDuration, c.SlowCallRate = 4, 4, 100, time.Second, 50
	})
	growing := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) {
		c.FailureThreshold, c.OpenDuration, c.OpenDurationFactor, c.MaxOpenDuration = 1, 2*Unit, 2, 5*Unit
	})
	due := 3*Unit + Unit/2 // past consec's open duration
	return []testCase{
		steps("fresh key is closed", consec, step{op: opLoad, state: closed, check: func(t *testing.T, s grelbreaker.Snapshot) {
			if s.Generation != 0 || s.Counts != (grelbreaker.Counts{}) || s.Last != (grelbreaker.Transition{}) {
				t.Fatalf("fresh snapshot %+v", s)
			}
		}}),
		steps("consecutive failures trip, with the counts from before", consec, slices.Concat(tripConsecutive(), []step{
			{op: opLoad, state: open, check: remaining(0, 3*Unit)},
			{op: opAllow, admitted: false, state: open, check: func(t *testing.T, s grelbreaker.Snapshot) {
				if s.OpenRemaining <= 0 || s.OpenRemaining > 3*Unit {
					t.Fatalf("refusal carries remaining %v", s.OpenRemaining)
				}
				if s.Last.From != closed || s.Last.To != open || s.Last.Counts.Failures != 3 || s.Last.Counts.ConsecutiveFailures != 3 {
					t.Fatalf("last transition %+v", s.Last)
				}
				if s.Counts.Failures != 0 {
					t.Fatalf("counts not reset by the transition: %+v", s.Counts)
				}
			}},
		})...),
		steps("a success ends the run of failures", consec, slices.Concat(
			call(opFailure, closed), call(opFailure, closed), call(opSuccess, closed),
			call(opFailure, closed), call(opFailure, closed),
			[]step{{op: opLoad, state: closed, check: counts(func(c grelbreaker.Counts) bool {
				return c.Successes == 1 && c.Failures == 4 && c.ConsecutiveFailures == 2
			}, "1 success, 4 failures, a run of 2")}})...),
		steps("an ignored outcome counts as neither", consec, slices.Concat(
			call(opFailure, closed), call(opFailure, closed), call(opIgnored, closed),
			[]step{{op: opLoad, state: closed, check: counts(func(c grelbreaker.Counts) bool {
				return c.Successes == 0 && c.Failures == 2 && c.ConsecutiveFailures == 2
			}, "the ignored call in neither count")}},
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}})...),
		steps("open admits trials after the open duration; a success closes", consec, slices.Concat(tripConsecutive(), []step{
			{op: opWait, wait: due, state: open, check: func(t *testing.T, s grelbreaker.Snapshot) {
				if s.OpenRemaining != 0 {
					t.Fatalf("due breaker reports remaining %v", s.OpenRemaining)
				}
			}},
			{op: opAllow, admitted: true, state: halfOpen, changed: true},
			{op: opSuccess, state: closed, changed: true, check: lastCounts(func(c grelbreaker.Counts) bool { return c.HalfOpenSuccesses == 1 }, "1 trial success")},
			{op: opAllow, admitted: true, state: closed},
		})...),
		steps("a failed trial opens again", consec, slices.Concat(tripConsecutive(), []step{
			{op: opWait, wait: due, state: open},
			{op: opAllow, admitted: true, state: halfOpen, changed: true},
			{op: opFailure, state: open, changed: true, check: remaining(0, 3*Unit)},
			{op: opAllow, admitted: false, state: open},
		})...),
		steps("half-open caps trials in flight apart from the successes that close", halfCap, slices.Concat(tripConsecutive(), []step{
			{op: opWait, wait: due, state: open},
			{op: opAllow, admitted: true, state: halfOpen, changed: true},
			{op: opAllow, admitted: true, state: halfOpen},
			{op: opAllow, admitted: false, state: halfOpen},
			{op: opSuccess, state: halfOpen, check: counts(func(c grelbreaker.Counts) bool { return c.HalfOpenSuccesses == 1 }, "1 trial success")},
			{op: opAllow, admitted: true, state: halfOpen},
			{op: opAllow, admitted: false, state: halfOpen},
			{op: opSuccess, state: halfOpen},
			{op: opSuccess, state: closed, changed: true},
		})...),
		steps("an ignored trial frees its slot", consec, slices.Concat(tripConsecutive(), []step{
			{op: opWait, wait: due, state: open},
			{op: opAllow, admitted: true, state: halfOpen, changed: true},
			{op: opAllow, admitted: false, state: halfOpen},
			{op: opIgnored, state: halfOpen},
			{op: opAllow, admitted: true, state: halfOpen},
			{op: opSuccess, state: closed, changed: true},
		})...),
		steps("outcomes of an older generation change nothing", consec, slices.Concat(
			[]step{{op: opAllow, admitted: true, state: closed}},
			tripConsecutive(), // every Allow so far was admitted in the closed generation, now stale
			[]step{
				{op: opStaleSuccess, state: open},
				{op: opWait, wait: due, state: open},
				{op: opAllow, admitted: true, state: halfOpen, changed: true},
				{op: opStaleFailure, state: halfOpen},
				{op: opStaleSuccess, state: halfOpen},
				{op: opSuccess, state: closed, changed: true},
			})...),
		steps("count window: outcomes admitted before a close count neither in the counts nor in the window", count, staleAfterClose(due)...),
		steps("time window: outcomes admitted before a close count neither in the counts nor in the window", timedMin4, staleAfterClose(due)...),
		steps("count window trips on the rate once it holds MinCalls", count, slices.Concat(
			call(opSuccess, closed), call(opSuccess, closed), call(opFailure, closed),
			[]step{{op: opLoad, state: closed, check: counts(func(c grelbreaker.Counts) bool {
				return c.WindowCalls == 3 && c.WindowFailures == 1
			}, "3 calls, 1 failure in the window")}},
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true,
				check: lastCounts(func(c grelbreaker.Counts) bool { return c.WindowCalls == 4 && c.WindowFailures == 2 }, "2 of 4 failed")}})...),
		steps("count window slides: old failures leave it", slide, slices.Concat(
			call(opFailure, closed), call(opFailure, closed), call(opSuccess, closed), call(opSuccess, closed), // 2/4
			call(opSuccess, closed), call(opSuccess, closed), // f f s s s s: window s s s s
			call(opFailure, closed), call(opFailure, closed), // s s f f: 2/4
			[]step{{op: opLoad, state: closed, check: counts(func(c grelbreaker.Counts) bool {
				return c.WindowCalls == 4 && c.WindowFailures == 2
			}, "the window holds the last 4 calls")}},
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}})...), // s f f f: 3/4
		steps("time window forgets calls older than the window", timed, slices.Concat(
			call(opFailure, closed), call(opFailure, closed),
			[]step{{op: opWait, wait: 5 * Unit, state: closed}},
			call(opSuccess, closed), call(opSuccess, closed), call(opFailure, closed), // 1/3 in the window
			[]step{{op: opLoad, state: closed, check: counts(func(c grelbreaker.Counts) bool {
				return c.WindowCalls == 3 && c.WindowFailures == 1
			}, "only the 3 recent calls in the window")}},
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}})...), // 2/4
		steps("time window trips on the rate", timed, slices.Concat(
			call(opFailure, closed), call(opSuccess, closed),
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}})...),
		steps("slow calls trip on their rate", slow, slices.Concat(
			call(opSuccess, closed), call(opSuccess, closed), call(opSlowSuccess, closed),
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opSlowSuccess, state: open, changed: true,
				check: lastCounts(func(c grelbreaker.Counts) bool { return c.WindowSlow == 2 && c.WindowFailures == 0 }, "2 slow, 0 failed")}})...),
		steps("the open duration grows on repeated trips, up to its cap", growing, slices.Concat(
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true, check: remaining(0, 2*Unit)}},
			[]step{{op: opWait, wait: 2*Unit + Unit/2, state: open}, {op: opAllow, admitted: true, state: halfOpen, changed: true},
				{op: opFailure, state: open, changed: true, check: remaining(2*Unit, 4*Unit)}},
			[]step{{op: opWait, wait: 4*Unit + Unit/2, state: open}, {op: opAllow, admitted: true, state: halfOpen, changed: true},
				{op: opFailure, state: open, changed: true, check: remaining(4*Unit, 5*Unit)}},
			[]step{{op: opWait, wait: 5*Unit + Unit/2, state: open}, {op: opAllow, admitted: true, state: halfOpen, changed: true},
				{op: opSuccess, state: closed, changed: true}},
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true, check: remaining(0, 2*Unit)}})...),
		steps("manual states", consec,
			step{op: opSetForced, state: forced, changed: true},
			step{op: opAllow, admitted: false, state: forced},
			step{op: opWait, wait: due, state: forced},
			step{op: opAllow, admitted: false, state: forced},
			step{op: opSetClosed, state: closed, changed: true},
			step{op: opAllow, admitted: true, state: closed},
			step{op: opSuccess, state: closed},
			step{op: opSetOpen, state: open, changed: true, check: remaining(0, 3*Unit)},
			step{op: opAllow, admitted: false, state: open},
			step{op: opWait, wait: due, state: open},
			step{op: opAllow, admitted: true, state: halfOpen, changed: true},
			step{op: opSetClosed, state: closed, changed: true},
		),
		steps("a new window shape keeps the state", count, slices.Concat(
			call(opFailure, closed), call(opFailure, closed), call(opFailure, closed),
			[]step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true}},
			[]step{{op: opConfig, state: open, cfg: config(grelbreaker.CountWindow, func(c *grelbreaker.Config) { c.WindowSize, c.MinCalls = 8, 2 })}},
			[]step{{op: opAllow, admitted: false, state: open}})...),
	}
}

func otherCases() []testCase {
	return []testCase{
		{name: "concurrent trials never exceed the half-open cap", fn: func(e *env) {
			cfg := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) { c.FailureThreshold, c.HalfOpenMaxCalls = 1, 3 })
			e.play(cfg, []step{{op: opAllow, admitted: true, state: closed}, {op: opFailure, state: open, changed: true},
				{op: opWait, wait: 3*Unit + Unit/2, state: open}})
			var admitted, changed atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					a, err := e.b.Allow(e.ctx(), e.key, cfg)
					if err != nil {
						e.t.Error(err)
						return
					}
					if a.Admitted {
						admitted.Add(1)
					}
					if a.Changed {
						changed.Add(1)
					}
				})
			}
			wg.Wait()
			if admitted.Load() != 3 || changed.Load() != 1 {
				e.t.Fatalf("%d trials admitted, %d answers reported the move to half-open; want 3 and 1", admitted.Load(), changed.Load())
			}
		}},
		{name: "concurrent outcomes are all counted", fn: func(e *env) {
			cfg := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) { c.FailureThreshold = 1000 })
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					a, err := e.b.Allow(e.ctx(), e.key, cfg)
					if err != nil || !a.Admitted {
						e.t.Errorf("allow: %v, %v", a.Admitted, err)
						return
					}
					o := grelbreaker.OutcomeSuccess
					if i%2 == 0 {
						o = grelbreaker.OutcomeFailure
					}
					if _, err := e.b.Record(e.ctx(), e.key, cfg, grelbreaker.Record{Generation: a.Generation, Outcome: o}); err != nil {
						e.t.Error(err)
					}
				})
			}
			wg.Wait()
			s, err := e.b.Load(e.ctx(), e.key, cfg)
			if err != nil {
				e.t.Fatal(err)
			}
			if s.Counts.Successes != 10 || s.Counts.Failures != 10 {
				e.t.Fatalf("counts %+v, want 10 and 10", s.Counts)
			}
		}},
		{name: "keys are independent", fn: func(e *env) {
			cfg := config(grelbreaker.ConsecutiveFailures, func(c *grelbreaker.Config) { c.FailureThreshold = 1 })
			if _, err := e.b.Set(e.ctx(), e.key, cfg, grelbreaker.StateForcedOpen); err != nil {
				e.t.Fatal(err)
			}
			s, err := e.b.Load(e.ctx(), e.key+":other", cfg)
			if err != nil || s.State != closed {
				e.t.Fatalf("other key: %s, %v", s.State, err)
			}
		}},
		{name: "a cancelled context fails the operation", fn: func(e *env) {
			cfg := config(grelbreaker.ConsecutiveFailures, nil)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := e.b.Allow(ctx, e.key, cfg); !errors.Is(err, context.Canceled) {
				e.t.Fatalf("Allow on a cancelled context: %v", err)
			}
			if _, err := e.b.Record(ctx, e.key, cfg, grelbreaker.Record{Outcome: grelbreaker.OutcomeFailure}); !errors.Is(err, context.Canceled) {
				e.t.Fatalf("Record on a cancelled context: %v", err)
			}
		}},
		{name: "set refuses half-open", fn: func(e *env) {
			cfg := config(grelbreaker.ConsecutiveFailures, nil)
			if _, err := e.b.Set(e.ctx(), e.key, cfg, grelbreaker.StateHalfOpen); !errors.Is(err, grelbreaker.ErrInvalidState) {
				e.t.Fatalf("Set(half-open) = %v, want ErrInvalidState", err)
			}
		}},
	}
}
