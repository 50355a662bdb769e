package grelbreaker

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The state word packs what admission decides on, so that one atomic load
// answers the closed-state question and one compare-and-swap takes a
// half-open trial slot:
//
//	bits 0-1    state
//	bits 2-17   trial calls in flight (half-open)
//	bits 18-33  successful trial calls (half-open)
//	bits 34-63  generation (low 30 bits), increased by every transition
const (
	inflightShift = 2
	succShift     = 18
	genShift      = 34
	fieldMask     = 1<<16 - 1
	genMask       = 1<<30 - 1
)

func stateOf(w uint64) State            { return State(w & 3) }
func inflightOf(w uint64) int           { return int(w >> inflightShift & fieldMask) }
func succOf(w uint64) int               { return int(w >> succShift & fieldMask) }
func genOf(w uint64) uint64             { return w >> genShift }
func mkWord(gen uint64, s State) uint64 { return (gen&genMask)<<genShift | uint64(s) }

// stripe holds monotonic outcome totals of calls recorded in the
// generation they were admitted in; calls add to a random stripe so that
// concurrent successes do not fight over one cache line.
type stripe struct {
	succ, fail, slow, ignored, rejected atomic.Int64
	_                                   [128 - 5*8]byte
}

type totals struct{ succ, fail, slow, ignored, rejected int64 }

func (t totals) sub(u totals) totals {
	return totals{t.succ - u.succ, t.fail - u.fail, t.slow - u.slow, t.ignored - u.ignored, t.rejected - u.rejected}
}

// core is the in-memory state machine of one breaker key: the state of the
// [Memory] backend, and the local fallback of breakers on shared stores.
// The closed-state success path takes no lock; transitions, window rebuilds
// and time-bucket rolls take mu, which is never held while user code runs.
type core struct {
	word atomic.Uint64
	_    [120]byte
	// consec is the run of failures in the closed state.
	consec atomic.Int64
	_      [120]byte

	openUntil atomic.Int64 // ns since epoch: when an open key admits trials
	hoSince   atomic.Int64 // ns since epoch: when half-open started
	gen       atomic.Uint64
	cfgSeen   atomic.Pointer[Config]
	cw        atomic.Pointer[countWindow]
	tw        atomic.Pointer[timeWindow]
	stripes   []stripe
	mask      uint32
	epoch     time.Time
	// stale counts outcomes recorded after the generation they were
	// admitted in ended: in the metrics' totals, never in a count or a
	// window.
	stale struct{ succ, fail, slow, ignored atomic.Int64 }

	mu    sync.Mutex
	base  totals // totals at the last transition
	trips int    // trips since the last close, for the growing open duration
	last  Transition
	// lastGen is the generation the last transition started.
	lastGen uint64
	// lastBy is the breaker whose operation made the last transition (nil
	// for Backend calls); it announces it, the others catch up.
	lastBy *Breaker
}

func newCore() *core {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < 64 {
		n <<= 1
	}
	n = max(n, 4)
	return &core{stripes: make([]stripe, n), mask: uint32(n - 1), epoch: time.Now()}
}

func (c *core) now() int64 { return int64(time.Since(c.epoch)) }

func (c *core) stripe() *stripe { return &c.stripes[rand.Uint32()&c.mask] }

// rawTotals adds the stale outcomes to totals: every outcome recorded, for
// metrics.
func (c *core) rawTotals() totals {
	t := c.totals()
	t.succ += c.stale.succ.Load()
	t.fail += c.stale.fail.Load()
	t.slow += c.stale.slow.Load()
	t.ignored += c.stale.ignored.Load()
	return t
}

// totals returns the outcomes recorded in their own generation (and the
// refusals): what counts and windows derive from.
func (c *core) totals() totals {
	var t totals
	for i := range c.stripes {
		s := &c.stripes[i]
		t.succ += s.succ.Load()
		t.fail += s.fail.Load()
		t.slow += s.slow.Load()
		t.ignored += s.ignored.Load()
		t.rejected += s.rejected.Load()
	}
	return t
}

// shape is what a window's layout depends on.
type shape struct {
	algorithm  Algorithm
	windowSize int
	window     time.Duration
	buckets    int
}

func shapeOf(c *Config) shape {
	s := shape{algorithm: c.Algorithm}
	switch c.Algorithm {
	case CountWindow:
		s.windowSize = c.WindowSize
	case TimeWindow:
		s.window, s.buckets = c.Window, c.Buckets
	}
	return s
}

// sync makes the windows fit cfg. A new shape restarts the window counts and
// keeps the state.
func (c *core) sync(cfg *Config) {
	prev := c.cfgSeen.Load()
	if prev == cfg {
		return
	}
	if prev != nil && shapeOf(prev) == shapeOf(cfg) {
		c.cfgSeen.Store(cfg)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev = c.cfgSeen.Load()
	if prev == nil || shapeOf(prev) != shapeOf(cfg) {
		c.resetWindowsLocked(cfg, c.now(), c.totals())
	}
	c.cfgSeen.Store(cfg)
}

func (c *core) resetWindowsLocked(cfg *Config, now int64, t totals) {
	switch cfg.Algorithm {
	case CountWindow:
		c.cw.Store(newCountWindow(cfg.WindowSize))
		c.tw.Store(nil)
	case TimeWindow:
		c.tw.Store(newTimeWindow(cfg, now, t))
		c.cw.Store(nil)
	default:
		c.cw.Store(nil)
		c.tw.Store(nil)
	}
}

// moved is a transition made by one operation: the transition and the
// full generation it started. ok is false when the operation made none.
// A transition made by a breaker's operation took a slot in that breaker's
// delivery order (seq, slot): the breaker must fill it.
type moved struct {
	tr   Transition
	gen  uint64
	seq  uint64
	ok   bool
	slot bool
}

// decision is the answer of admit.
type decision struct {
	w         uint64 // the word the call was admitted under
	ok        bool
	state     State
	remaining time.Duration
	moved     moved // admit moved the key from open to half-open
}

// admit lets one call in or refuses it.
func (c *core) admit(cfg *Config, by *Breaker) decision {
	var d decision
	for {
		w := c.word.Load()
		switch stateOf(w) {
		case StateClosed:
			d.w, d.ok, d.state = w, true, StateClosed
			return d
		case StateForcedOpen:
			c.stripe().rejected.Add(1)
			d.state = StateForcedOpen
			return d
		case StateOpen:
			now := c.now()
			if until := c.openUntil.Load(); now < until {
				c.stripe().rejected.Add(1)
				d.state, d.remaining = StateOpen, time.Duration(until-now)
				return d
			}
			if m := c.transition(cfg, w, StateHalfOpen, now, 0, by); m.ok {
				d.moved = m
			}
		case StateHalfOpen:
			if inflightOf(w) >= cfg.HalfOpenMaxCalls {
				// Trial slots whose outcome never came back (a lost done,
				// a crashed caller) are given back after the open duration.
				now := c.now()
				if now-c.hoSince.Load() < int64(cfg.OpenDuration) || !c.renewHalfOpen(w, now) {
					c.stripe().rejected.Add(1)
					d.state = StateHalfOpen
					return d
				}
				continue
			}
			if nw := w + 1<<inflightShift; c.word.CompareAndSwap(w, nw) {
				d.w, d.ok, d.state = nw, true, StateHalfOpen
				return d
			}
		}
	}
}

// renewHalfOpen starts a new half-open generation with every trial slot
// free. It reports whether it did.
func (c *core) renewHalfOpen(from uint64, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.word.Load()
	if genOf(w) != genOf(from) || stateOf(w) != StateHalfOpen {
		return true // someone else moved it; look again
	}
	c.hoSince.Store(now)
	c.word.Store(mkWord(c.gen.Add(1), StateHalfOpen))
	return true
}

// record counts one outcome of a call admitted in generation gen (its low
// 30 bits). It returns the transition the outcome caused, if any.
func (c *core) record(cfg *Config, gen uint64, o Outcome, slow bool, by *Breaker) moved {
	c.sync(cfg)
	now := int64(-1)
	tw := c.tw.Load()
	if tw != nil {
		now = c.now()
		c.roll(tw, now)
	}
	w := c.word.Load()
	if genOf(w) != gen&genMask {
		c.recordStale(o, slow)
		return moved{}
	}
	s := c.stripe()
	switch o {
	case OutcomeSuccess:
		s.succ.Add(1)
	case OutcomeFailure:
		s.fail.Add(1)
	default:
		s.ignored.Add(1)
	}
	if slow && o != OutcomeIgnored {
		s.slow.Add(1)
	}
	switch stateOf(w) {
	case StateClosed:
		return c.recordClosed(cfg, w, o, slow && cfg.slowOn(), tw, now, by)
	case StateHalfOpen:
		return c.recordHalfOpen(cfg, w, o, slow && cfg.slowOn(), by)
	}
	return moved{}
}

// recordStale counts an outcome of a generation that has ended: metrics
// see it, the counts and windows of the current generation do not.
func (c *core) recordStale(o Outcome, slow bool) {
	switch o {
	case OutcomeSuccess:
		c.stale.succ.Add(1)
	case OutcomeFailure:
		c.stale.fail.Add(1)
	default:
		c.stale.ignored.Add(1)
	}
	if slow && o != OutcomeIgnored {
		c.stale.slow.Add(1)
	}
}

func (c *core) recordClosed(cfg *Config, w uint64, o Outcome, slow bool, tw *timeWindow, now int64, by *Breaker) moved {
	if o == OutcomeIgnored {
		return moved{}
	}
	bad := o == OutcomeFailure
	if !bad {
		if c.consec.Load() != 0 {
			c.consec.Store(0)
		}
	} else if n := c.consec.Add(1); cfg.Algorithm == ConsecutiveFailures && n >= int64(cfg.FailureThreshold) {
		return c.transition(cfg, w, StateOpen, now, 0, by)
	}
	switch cfg.Algorithm {
	case CountWindow:
		cw := c.cw.Load()
		if cw == nil {
			return moved{}
		}
		v := uint32(slotSuccess)
		if bad {
			v = slotFailure
		}
		if slow {
			v |= slotSlow
		}
		calls, fails, slows := cw.push(v)
		if (bad || slow) && cfg.rateTrips(calls, fails, slows) {
			return c.transition(cfg, w, StateOpen, now, 0, by)
		}
	case TimeWindow:
		if tw == nil || (!bad && !slow) {
			return moved{}
		}
		calls, fails, slows := c.timeCounts(tw, now, c.totals())
		if cfg.rateTrips(calls, fails, slows) {
			return c.transition(cfg, w, StateOpen, now, 0, by)
		}
	}
	return moved{}
}

func (c *core) recordHalfOpen(cfg *Config, w uint64, o Outcome, slow bool, by *Breaker) moved {
	for {
		switch {
		case o == OutcomeIgnored:
			nw := w
			if inflightOf(w) > 0 {
				nw -= 1 << inflightShift
			}
			if c.word.CompareAndSwap(w, nw) {
				return moved{}
			}
		case o == OutcomeFailure || slow:
			return c.transition(cfg, w, StateOpen, -1, 0, by)
		default:
			if succOf(w)+1 >= cfg.SuccessThreshold {
				return c.transition(cfg, w, StateClosed, -1, 1, by)
			}
			nw := w + 1<<succShift
			if inflightOf(w) > 0 {
				nw -= 1 << inflightShift
			}
			if c.word.CompareAndSwap(w, nw) {
				return moved{}
			}
		}
		nw := c.word.Load()
		if genOf(nw) != genOf(w) || stateOf(nw) != StateHalfOpen {
			return moved{}
		}
		w = nw
	}
}

// transition moves the key from the state of word from to to, if no other
// transition came first (manual transitions always happen). now is -1 when
// not read yet. extraSucc adds trial successes not yet in the word to the
// reported counts.
func (c *core) transition(cfg *Config, from uint64, to State, now int64, extraSucc int64, by *Breaker) moved {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.word.Load()
	if genOf(w) != genOf(from) || stateOf(w) != stateOf(from) {
		return moved{}
	}
	return c.transitionLocked(cfg, w, to, now, extraSucc, by)
}

func (c *core) transitionLocked(cfg *Config, w uint64, to State, now int64, extraSucc int64, by *Breaker) moved {
	if now < 0 {
		now = c.now()
	}
	t := c.totals()
	tr := Transition{From: stateOf(w), To: to, Counts: c.countsLocked(w, now, t)}
	tr.Counts.HalfOpenSuccesses += extraSucc
	c.base = t
	c.consec.Store(0)
	c.resetWindowsLocked(cfg, now, t)
	c.cfgSeen.Store(cfg)
	switch to {
	case StateOpen:
		c.trips++
		c.openUntil.Store(now + int64(cfg.openFor(c.trips)))
	case StateHalfOpen:
		c.hoSince.Store(now)
	case StateClosed:
		c.trips = 0
	}
	g := c.gen.Add(1)
	c.last, c.lastGen, c.lastBy = tr, g, by
	c.word.Store(mkWord(g, to))
	m := moved{tr: tr, gen: g, ok: true}
	if by != nil {
		// Under mu, so that the breaker's events and its seen generation
		// follow the order of the transitions.
		if by.core == c {
			by.seen.Store(g & genMask)
		}
		m.seq, m.slot = by.notes.reserve(), true
	}
	return m
}

// set moves the key to state whatever its state (manual operations).
func (c *core) set(cfg *Config, to State, by *Breaker) moved {
	c.sync(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transitionLocked(cfg, c.word.Load(), to, -1, 0, by)
}

// seed makes a fresh local fallback copy the shared state it replaces.
func (c *core) seed(cfg *Config, s State, remaining time.Duration) {
	c.sync(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.word.Load()
	if stateOf(w) == s && s != StateOpen {
		return
	}
	now := c.now()
	c.transitionLocked(cfg, w, s, now, 0, nil)
	if s == StateOpen {
		c.openUntil.Store(now + int64(remaining))
	}
}

func (c *core) countsLocked(w uint64, now int64, t totals) Counts {
	d := t.sub(c.base)
	cts := Counts{
		Successes:           d.succ,
		Failures:            d.fail,
		Slow:                d.slow,
		ConsecutiveFailures: c.consec.Load(),
		HalfOpenSuccesses:   int64(succOf(w)),
	}
	if cw := c.cw.Load(); cw != nil {
		cts.WindowCalls, cts.WindowFailures, cts.WindowSlow = cw.counts()
	}
	if tw := c.tw.Load(); tw != nil {
		cts.WindowCalls, cts.WindowFailures, cts.WindowSlow = c.timeCountsLocked(tw, now, t)
	}
	return cts
}

// snapshot returns the key's state for the Backend API.
func (c *core) snapshot(cfg *Config) Snapshot {
	c.sync(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *core) snapshotLocked() Snapshot {
	w := c.word.Load()
	now := c.now()
	s := Snapshot{State: stateOf(w), Generation: c.gen.Load(), Counts: c.countsLocked(w, now, c.totals()), Last: c.last}
	if s.State == StateOpen {
		s.OpenRemaining = max(0, time.Duration(c.openUntil.Load()-now))
	}
	return s
}

// fullGen widens the low 30 bits g of a generation to the most recent full
// generation that has them.
func (c *core) fullGen(g uint64) uint64 {
	cur := c.gen.Load()
	return cur - ((cur - g) & genMask)
}

// Count window: a ring of the last WindowSize outcomes.
const (
	slotSuccess = 1
	slotFailure = 2
	slotSlow    = 4
)

type countWindow struct {
	size  uint64
	seq   atomic.Uint64
	fails atomic.Int64
	slows atomic.Int64
	_     [104]byte
	slots []atomic.Uint32
}

func newCountWindow(size int) *countWindow {
	return &countWindow{size: uint64(size), slots: make([]atomic.Uint32, size)}
}

// push adds one outcome and returns the window's calls, failures and slow
// calls after it.
func (w *countWindow) push(v uint32) (calls, fails, slows int64) {
	i := w.seq.Add(1) - 1
	old := w.slots[i%w.size].Swap(v)
	var df, ds int64
	if v&slotFailure != 0 {
		df++
	}
	if old&slotFailure != 0 {
		df--
	}
	if v&slotSlow != 0 {
		ds++
	}
	if old&slotSlow != 0 {
		ds--
	}
	if df != 0 {
		fails = w.fails.Add(df)
	} else {
		fails = w.fails.Load()
	}
	if ds != 0 {
		slows = w.slows.Add(ds)
	} else {
		slows = w.slows.Load()
	}
	return int64(min(i+1, w.size)), fails, slows
}

func (w *countWindow) counts() (calls, fails, slows int64) {
	return int64(min(w.seq.Load(), w.size)), w.fails.Load(), w.slows.Load()
}

// Time window: the totals at the start of each of the last Buckets slices;
// the window's counts are the totals now minus the totals at the start of
// the oldest slice still in the window.
type timeWindow struct {
	bucketNs int64
	n        int64
	cur      atomic.Int64 // the slice the last roll started
	snaps    []bucketSnap // by slice % n, under core.mu
}

type bucketSnap struct {
	slice int64
	t     totals
	valid bool
}

func newTimeWindow(cfg *Config, now int64, t totals) *timeWindow {
	n := int64(cfg.Buckets)
	bucket := int64(cfg.Window) / n
	w := &timeWindow{bucketNs: bucket, n: n, snaps: make([]bucketSnap, n)}
	slice := now / bucket
	w.snaps[slice%n] = bucketSnap{slice: slice, t: t, valid: true}
	w.cur.Store(slice)
	return w
}

// roll starts the slice of now if it is a new one.
func (c *core) roll(w *timeWindow, now int64) {
	slice := now / w.bucketNs
	if slice <= w.cur.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tw.Load() != w || slice <= w.cur.Load() {
		return
	}
	w.snaps[slice%w.n] = bucketSnap{slice: slice, t: c.totals(), valid: true}
	w.cur.Store(slice)
}

func (c *core) timeCounts(w *timeWindow, now int64, t totals) (calls, fails, slows int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeCountsLocked(w, now, t)
}

func (c *core) timeCountsLocked(w *timeWindow, now int64, t totals) (calls, fails, slows int64) {
	first := now/w.bucketNs - w.n + 1
	var best *bucketSnap
	for i := range w.snaps {
		s := &w.snaps[i]
		if s.valid && s.slice >= first && (best == nil || s.slice < best.slice) {
			best = s
		}
	}
	if best == nil {
		return 0, 0, 0
	}
	d := t.sub(best.t)
	return d.succ + d.fail, d.fail, d.slow
}
