package grelhealth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap"
)

// maxNameLen bounds a check's name.
const maxNameLen = 128

// Checker runs registered checks concurrently, each at most once per TTL,
// each bounded by its timeout, and aggregates their results. It is safe for
// concurrent use. The request path takes no lock shared between checks: the
// set of checks is an immutable snapshot swapped by Register, and each check
// has its own state.
type Checker struct {
	cfg       Config
	log       *zap.Logger
	listeners []func(StatusChange)
	tel       *telemetry // nil when the meter provider is the no-op one

	regMu sync.Mutex // serializes Register; never taken by a request
	set   atomic.Pointer[checkSet]

	draining atomic.Bool

	base   context.Context // parent of every run; canceled by Stop
	cancel context.CancelCauseFunc

	// lifeMu guards the fields below. It is taken when a run starts or ends
	// (at most once per TTL per check) and by Start and Stop, never on a
	// request served from cached results.
	lifeMu   sync.Mutex
	stopped  bool
	runs     map[*run]*entry
	loopStop chan struct{}
	loopDone chan struct{}
}

// checkSet is an immutable snapshot of the registered checks.
type checkSet struct {
	byName map[string]*entry
	all    []*entry // every check, sorted by name (/healthz)
	ready  []*entry // critical checks, liveness included (/readyz)
	live   []*entry // critical liveness checks (/livez)
}

func (s *checkSet) scope(sc Scope) []*entry {
	switch sc {
	case ScopeLiveness:
		return s.live
	case ScopeReadiness:
		return s.ready
	}
	return s.all
}

// New returns a Checker whose defaults are resolved from the options, then
// GREL_HEALTH_* (through the registry of [WithRegistry], by default the
// process environment), then the documented defaults.
func New(opts ...Option) (*Checker, error) {
	o := collect(opts)
	reg := o.registry
	if reg == nil {
		reg = grelconfig.NewRegistry(grelconfig.Env())
	}
	cfg, err := spec.Resolve(reg, "", o.settings...)
	if err != nil {
		return nil, err
	}
	return newChecker(cfg, o)
}

// NewFromConfig returns a Checker with cfg as-is (config options given here
// apply on top of it); it reads no environment.
func NewFromConfig(cfg Config, opts ...Option) (*Checker, error) {
	o := collect(opts)
	for _, set := range o.overrides {
		set(&cfg)
	}
	if err := spec.Validate(cfg); err != nil {
		return nil, err
	}
	return newChecker(cfg, o)
}

func collect(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

func newChecker(cfg Config, o *options) (*Checker, error) {
	log := o.logger
	if log == nil {
		log = zap.NewNop()
	}
	base, cancel := context.WithCancelCause(context.Background())
	c := &Checker{
		cfg:       cfg,
		log:       log.With(zap.String(grellog.FieldPattern, "health")),
		listeners: slices.Clone(o.listeners),
		base:      base,
		cancel:    cancel,
		runs:      map[*run]*entry{},
	}
	c.set.Store(&checkSet{byName: map[string]*entry{}})
	tel, err := newTelemetry(o.meter, c)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	c.tel = tel
	return c, nil
}

// Config returns the checker's resolved defaults.
func (c *Checker) Config() Config { return c.cfg }

// Register adds a readiness check: a critical one decides /readyz, every
// one shows in /healthz. It refuses an invalid Check (ErrInvalidCheck) and
// a name already registered (ErrDuplicateCheck). Checks may be registered at
// any time, also while requests are served.
func (c *Checker) Register(check Check) error { return c.register(check, false) }

// RegisterLiveness adds a liveness check: one that fails only when the
// process itself is broken and a restart is the cure (a deadlocked worker, a
// full disk it cannot work without), never because a dependency is down.
// Critical liveness checks decide /livez and are part of /readyz too (a
// process that is not live is not ready); every one shows in /healthz.
func (c *Checker) RegisterLiveness(check Check) error { return c.register(check, true) }

func (c *Checker) register(check Check, liveness bool) error {
	if err := validateCheck(check); err != nil {
		return err
	}
	e := &entry{
		c:        c,
		name:     check.Name,
		check:    check,
		critical: !check.NonCritical,
		liveness: liveness,
		timeout:  cmp.Or(check.Timeout, c.cfg.Timeout),
		ttl:      cmp.Or(check.TTL, c.cfg.TTL),
		log:      c.log.With(zap.String(grellog.FieldName, check.Name)),
	}
	e.opts = c.tel.optsFor(e)
	c.regMu.Lock()
	defer c.regMu.Unlock()
	old := c.set.Load()
	if _, dup := old.byName[check.Name]; dup {
		return &RegisterError{Name: check.Name, Err: ErrDuplicateCheck,
			Reason: "registered twice: give each check (each provider instance) its own name"}
	}
	next := &checkSet{byName: maps.Clone(old.byName)}
	next.byName[e.name] = e
	next.all = insertSorted(old.all, e)
	next.ready, next.live = old.ready, old.live
	if e.critical {
		next.ready = insertSorted(old.ready, e)
		if liveness {
			next.live = insertSorted(old.live, e)
		}
	}
	c.set.Store(next)
	return nil
}

func insertSorted(list []*entry, e *entry) []*entry {
	i, _ := slices.BinarySearchFunc(list, e.name, func(x *entry, name string) int { return strings.Compare(x.name, name) })
	out := make([]*entry, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, e)
	return append(out, list[i:]...)
}

func validateCheck(ch Check) error {
	invalid := func(reason string) error {
		return &RegisterError{Name: ch.Name, Reason: reason, Err: ErrInvalidCheck}
	}
	if !validName(ch.Name) {
		return invalid("Name must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	if (ch.Func == nil) == (ch.DetailFunc == nil) {
		return invalid("exactly one of Func and DetailFunc must be set")
	}
	if ch.Timeout < 0 {
		return invalid("Timeout must not be negative")
	}
	if ch.TTL < 0 {
		return invalid("TTL must not be negative")
	}
	return nil
}

// validName: 1 to 128 of [A-Za-z0-9._:-], starting with a letter or digit
// (providers name theirs "redis" and "redis:cache"). A name is one path
// segment (/readyz/{name}) and never holds a comma (the separator of
// ?exclude=).
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case (b == '.' || b == '_' || b == '-' || b == ':') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Names returns the names of the registered checks, sorted.
func (c *Checker) Names() []string {
	set := c.set.Load()
	out := make([]string, len(set.all))
	for i, e := range set.all {
		out[i] = e.name
	}
	return out
}

// Check returns the result of the named check, running it first when its
// cached result has expired (joining a run already in flight). It returns
// ErrUnknownCheck for a name that is not registered and ctx.Err() when ctx
// ends first; the run itself goes on for the other callers.
func (c *Checker) Check(ctx context.Context, name string) (Result, error) {
	e := c.set.Load().byName[name]
	if e == nil {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownCheck, name)
	}
	o, err := e.await(ctx, time.Now())
	if err != nil {
		return Result{}, err
	}
	return o.Result, nil
}

// Report runs the checks of scope concurrently (each only when its cached
// result has expired), except the excluded names, and aggregates them. An
// excluded name that is not a registered check is listed in
// Report.UnknownExcluded. A readiness report of a draining checker fails
// without running any check. It returns ctx.Err() when ctx ends before every
// result is in; the runs go on for the other callers.
func (c *Checker) Report(ctx context.Context, scope Scope, exclude ...string) (Report, error) {
	set := c.set.Load()
	rep := Report{Draining: c.draining.Load()}
	rep.Excluded, rep.UnknownExcluded = classify(set, exclude)
	if scope == ScopeReadiness && rep.Draining {
		rep.Status = StatusFail
		return rep, nil
	}
	list := set.scope(scope)
	now := time.Now()
	for _, e := range list {
		if !slices.Contains(exclude, e.name) {
			e.trigger(now)
		}
	}
	rep.Checks = make([]Result, 0, len(list))
	for _, e := range list {
		if slices.Contains(exclude, e.name) {
			continue
		}
		o, err := e.await(ctx, now)
		if err != nil {
			return rep, err
		}
		rep.Checks = append(rep.Checks, o.Result)
	}
	rep.Status = aggregate(rep.Checks, rep.Draining && scope != ScopeLiveness)
	return rep, nil
}

// classify splits exclude into registered and unknown names, sorted and
// without duplicates.
func classify(set *checkSet, exclude []string) (known, unknown []string) {
	for _, n := range exclude {
		if _, ok := set.byName[n]; ok {
			known = append(known, n)
		} else {
			unknown = append(unknown, n)
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	return slices.Compact(known), slices.Compact(unknown)
}

func aggregate(results []Result, draining bool) Status {
	st := StatusPass
	for _, r := range results {
		if r.Status == StatusPass {
			continue
		}
		if r.Critical {
			return StatusFail
		}
		st = StatusWarn
	}
	if draining {
		return StatusFail
	}
	return st
}

// Ready reports whether the service is ready: not draining and every
// critical check passes. It reports false as soon as one critical check
// fails, without waiting for the others (their runs go on and are cached).
// It allocates nothing when the results are cached. It returns ctx.Err()
// when ctx ends first.
func (c *Checker) Ready(ctx context.Context) (bool, error) {
	if c.draining.Load() {
		return false, nil
	}
	return passAll(ctx, c.set.Load().ready)
}

// Live reports whether every critical liveness check passes, answering
// false as soon as one fails, like [Checker.Ready].
func (c *Checker) Live(ctx context.Context) (bool, error) {
	return passAll(ctx, c.set.Load().live)
}

// passAll starts every expired check of list concurrently, then reports
// false as soon as one fails: a failing cached result answers at once, and
// otherwise the results are taken in the order they arrive, not in name
// order, so a slow passing check never delays the answer of a failing one.
// It reports true when every result is in and passes. It allocates nothing
// when every result is cached.
func passAll(ctx context.Context, list []*entry) (bool, error) {
	now := time.Now()
	for _, e := range list {
		e.trigger(now)
	}
	pending := 0
	for _, e := range list {
		o := e.last.Load()
		switch {
		case !o.fresh(now):
			pending++
		case o.Status != StatusPass:
			return false, nil
		}
	}
	if pending == 0 {
		return true, nil
	}
	if pending == 1 {
		// One result to wait for (the others are in and pass): no need to
		// watch several runs at once.
		for _, e := range list {
			o, err := e.await(ctx, now)
			if err != nil {
				return false, err
			}
			if o.Status != StatusPass {
				return false, nil
			}
		}
		return true, nil
	}
	return passFirst(ctx, list, now, pending)
}

// passFirst is passAll when several results are still to come: it waits on
// all of them at once and looks at each as it arrives. Waiting cancels
// nothing shared: the runs go on for the other callers when it returns.
func passFirst(ctx context.Context, list []*entry, now time.Time, pending int) (bool, error) {
	cases := make([]reflect.SelectCase, 1, pending+1)
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	type waiting struct {
		e *entry
		r *run // nil: the run has settled; ask e again once its goroutine ends
	}
	waits := make([]waiting, 0, pending)
	// watch reports whether e has a result that fails; when it has none yet,
	// it adds the run to wait for.
	watch := func(e *entry) bool {
		o, r, wait := e.next(now)
		if o != nil {
			return o.Status != StatusPass
		}
		waits = append(waits, waiting{e: e, r: r})
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(wait)})
		return false
	}
	for _, e := range list {
		if watch(e) {
			return false, nil
		}
	}
	for len(waits) > 0 {
		i, _, _ := reflect.Select(cases)
		if i == 0 {
			return false, ctx.Err()
		}
		w := waits[i-1]
		cases = slices.Delete(cases, i, i+1)
		waits = slices.Delete(waits, i-1, i)
		if w.r != nil {
			if w.r.res.Status != StatusPass {
				return false, nil
			}
			continue
		}
		if watch(w.e) {
			return false, nil
		}
	}
	return true, nil
}

// Draining reports whether Drain has been called.
func (c *Checker) Draining() bool { return c.draining.Load() }

// DrainReserve bounds the share of the stop context that [Checker.Drain]
// leaves to the hooks that stop after it (the servers' shutdown, lease
// releases, the checker's Stop, the providers' close, the telemetry flush):
// when ctx has a deadline, Drain waits at most until that deadline minus
// min(half the time left, DrainReserve). A stop timeout of at least the
// drain delay plus DrainReserve, counted from when the drain starts, leaves
// the drain whole; add the servers' shutdown and the telemetry flush to it
// to size an app's stop timeout.
const DrainReserve = 2 * time.Second

// drainWait is how long Drain may wait at now: the drain delay, cut so that
// the reserve of ctx's deadline is left (cut is then true).
func drainWait(ctx context.Context, delay time.Duration) (wait, left time.Duration, cut bool) {
	deadline, ok := ctx.Deadline()
	if !ok || delay <= 0 {
		return delay, 0, false
	}
	left = time.Until(deadline)
	most := left - min(left/2, DrainReserve)
	if delay <= most {
		return delay, left, false
	}
	return max(most, 0), left, true
}

// Drain turns readiness to not ready (/readyz answers 503 from now on, and
// /healthz too) and then waits the drain delay, so that load balancers stop
// sending traffic before the servers stop. Call it before shutting servers
// down. Liveness is not affected; a second call returns at once.
//
// Drain never spends the whole stop budget: when ctx has a deadline, it
// returns early enough to leave the hooks that stop after it a share of the
// time left (see [DrainReserve]). A drain cut short that way is logged at
// warn, naming GREL_HEALTH_DRAIN_DELAY, and is not an error: Drain returns
// nil. It returns ctx.Err() only when ctx ends before the (possibly
// shortened) wait does, or has already ended.
func (c *Checker) Drain(ctx context.Context) error {
	if c.draining.Swap(true) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		c.log.Info("draining: readiness is now failing", zap.String(grellog.FieldState, "draining"))
		return err
	}
	wait, left, cut := drainWait(ctx, c.cfg.DrainDelay)
	c.log.Info("draining: readiness is now failing",
		zap.String(grellog.FieldState, "draining"), zap.Duration(grellog.FieldDuration, wait))
	if cut {
		c.log.Warn("drain cut short: GREL_HEALTH_DRAIN_DELAY does not fit in the stop timeout; "+
			"raise the stop timeout (fx.StopTimeout) above the delay plus the servers' shutdown, or lower the delay",
			zap.String(grellog.FieldOp, "drain"),
			zap.Duration("drain_delay", c.cfg.DrainDelay), zap.Duration(grellog.FieldDuration, wait),
			zap.Duration("stop_time_left", left))
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start starts the background runs when Config.Interval is greater than 0:
// every check whose result has expired is run at once, then at each tick.
// It does not block. It returns ErrStopped after Stop, nil otherwise
// (a second Start is a no-op).
func (c *Checker) Start(context.Context) error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	if c.loopStop != nil || c.cfg.Interval <= 0 {
		return nil
	}
	c.loopStop, c.loopDone = make(chan struct{}), make(chan struct{})
	go c.loop(c.loopStop, c.loopDone)
	return nil
}

func (c *Checker) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		now := time.Now()
		for _, e := range c.set.Load().all {
			e.trigger(now)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// Stop ends the checker for good: it stops the background runs, cancels
// the context of every run in flight and waits for those runs to return,
// each at most until its own timeout would have passed, and at most until
// ctx ends. A run whose function ignores its context cannot be stopped: Stop
// then returns an error matching ErrStillRunning that names it. After Stop
// no run starts: results report ErrStopped. Stop the checker after the HTTP
// servers that serve it.
func (c *Checker) Stop(ctx context.Context) error {
	c.lifeMu.Lock()
	if c.stopped {
		c.lifeMu.Unlock()
		return nil
	}
	c.stopped = true
	loopStop, loopDone := c.loopStop, c.loopDone
	runs := maps.Clone(c.runs)
	c.lifeMu.Unlock()
	c.tel.stop()

	c.cancel(ErrStopped)
	if loopStop != nil {
		close(loopStop)
		select {
		case <-loopDone:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var stuck []string
	for r, e := range runs {
		if !r.wait(ctx, r.start.Add(e.timeout)) {
			stuck = append(stuck, e.name)
		}
	}
	if len(stuck) == 0 {
		return nil
	}
	slices.Sort(stuck)
	stuck = slices.Compact(stuck)
	c.log.Warn("health checks still running at stop: they ignore their context",
		zap.String(grellog.FieldOp, "stop"), zap.Strings("checks", stuck))
	return fmt.Errorf("grelhealth: stop: %s did not return after its context was canceled: %w",
		strings.Join(stuck, ", "), ErrStillRunning)
}

// beginRun records r as in flight and returns its context, or ok false when
// the checker is stopped.
func (c *Checker) beginRun(r *run, e *entry) (context.Context, context.CancelFunc, bool) {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.stopped {
		return nil, nil, false
	}
	c.runs[r] = e
	ctx, cancel := context.WithTimeout(c.base, e.timeout)
	return ctx, cancel, true
}

func (c *Checker) endRun(r *run) {
	c.lifeMu.Lock()
	delete(c.runs, r)
	c.lifeMu.Unlock()
}

// entry is one registered check and its state.
type entry struct {
	c        *Checker
	name     string
	check    Check
	critical bool
	liveness bool
	timeout  time.Duration
	ttl      time.Duration
	log      *zap.Logger
	opts     *entryOpts // its metrics' attributes; nil without metrics

	last atomic.Pointer[outcome] // the latest result, read without a lock

	mu      sync.Mutex // guards running and the run fields it points to
	running *run       // the run in flight, nil when none
}

// outcome is a Result and the time it expires.
type outcome struct {
	Result
	expires time.Time
}

// run is one execution of a check.
type run struct {
	start  time.Time
	done   chan struct{} // closed once res is set
	exited chan struct{} // closed when the run's goroutine ends
	res    *outcome      // set before done is closed
	// guarded by entry.mu:
	settled   bool // res is set
	abandoned bool // settled by the timeout (or Stop) while the function still ran
}

// wait waits for the run's goroutine to end, at most until deadline and
// until ctx ends; it reports whether the goroutine ended.
func (r *run) wait(ctx context.Context, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-r.exited:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

func (o *outcome) fresh(now time.Time) bool { return o != nil && now.Before(o.expires) }

// trigger starts a run when the cached result has expired and none is in
// flight. It does not wait.
func (e *entry) trigger(now time.Time) {
	if e.last.Load().fresh(now) {
		return
	}
	e.mu.Lock()
	if e.running == nil && !e.last.Load().fresh(now) {
		if e.startLocked() == nil {
			e.mu.Unlock()
			e.publish(e.newOutcome(time.Now(), 0, nil, ErrStopped), nil, false)
			return
		}
	}
	e.mu.Unlock()
}

// await returns a result no older than the TTL at now: the cached one, the
// one of the run in flight, or the one of a run it starts. It returns
// ctx.Err() when ctx ends first, leaving the run to the other callers.
func (e *entry) await(ctx context.Context, now time.Time) (*outcome, error) {
	for {
		o, r, wait := e.next(now)
		if o != nil {
			return o, nil
		}
		select {
		case <-wait:
			if r != nil {
				return r.res, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// next is one step of await that never blocks. It returns a result no older
// than the TTL at now when there is one (starting no run, or publishing the
// result of a run that cannot start), or else a channel to wait on: when r
// is not nil, wait is r.done and the result is r.res once it is closed; when
// r is nil, wait closes when the goroutine of a settled run ends, and next
// must be asked again.
func (e *entry) next(now time.Time) (o *outcome, r *run, wait <-chan struct{}) {
	if o := e.last.Load(); o.fresh(now) {
		return o, nil, nil
	}
	e.mu.Lock()
	if o := e.last.Load(); o.fresh(now) {
		e.mu.Unlock()
		return o, nil, nil
	}
	r = e.running
	switch {
	case r == nil:
		if r = e.startLocked(); r == nil {
			e.mu.Unlock()
			return e.publish(e.newOutcome(time.Now(), 0, nil, ErrStopped), nil, false), nil, nil
		}
	case r.abandoned:
		// The previous run timed out and its function has not returned:
		// do not pile a second one on it; say so.
		e.mu.Unlock()
		t := time.Now()
		return e.publish(e.newOutcome(t, t.Sub(r.start), nil, ErrStillRunning), nil, false), nil, nil
	case r.settled:
		// The run has finished but its goroutine is still calling the
		// listeners, and its result has already expired (a TTL shorter than
		// the listeners): wait for it to end, then run again.
		e.mu.Unlock()
		return nil, nil, r.exited
	}
	e.mu.Unlock()
	return nil, r, r.done
}

// startLocked starts a run; e.mu is held. It returns nil when the checker
// is stopped.
func (e *entry) startLocked() *run {
	r := &run{start: time.Now(), done: make(chan struct{}), exited: make(chan struct{})}
	ctx, cancel, ok := e.c.beginRun(r, e)
	if !ok {
		return nil
	}
	e.running = r
	go e.exec(ctx, cancel, r)
	return r
}

// exec is the goroutine of one run. It calls the function with a context
// that ends at the timeout; when the timeout (or Stop) comes first, the
// failure is published at that moment by the AfterFunc, whatever the
// function does. The goroutine itself ends when the function returns.
func (e *entry) exec(ctx context.Context, cancel context.CancelFunc, r *run) {
	defer close(r.exited)
	defer e.c.endRun(r)
	defer cancel()
	// ended is the failure of a run whose context ended: its timeout, or
	// Stop.
	ended := func() error {
		if errors.Is(context.Cause(ctx), ErrStopped) {
			return ErrStopped
		}
		return &TimeoutError{Timeout: e.timeout}
	}
	afterDone := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		defer close(afterDone)
		t := time.Now()
		e.publish(e.newOutcome(t, t.Sub(r.start), nil, ended()), r, true)
	})
	details, err := e.call(ctx)
	if stopAfter() {
		var pe *PanicError
		if err != nil && ctx.Err() != nil && !errors.As(err, &pe) {
			// The function failed because its context ended and returned
			// before the AfterFunc could run (the context closes Done
			// before it starts its AfterFuncs): the same result as if the
			// AfterFunc had published.
			details, err = nil, ended()
		}
		t := time.Now()
		e.publish(e.newOutcome(t, t.Sub(r.start), details, err), r, false)
	} else {
		<-afterDone // the timeout or Stop came first and published
	}
	e.mu.Lock()
	e.running = nil
	e.mu.Unlock()
}

// call runs the check's function, turning a panic into a *PanicError.
func (e *entry) call(ctx context.Context) (details map[string]any, err error) {
	defer func() {
		if v := recover(); v != nil {
			details, err = nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if e.check.DetailFunc != nil {
		return e.check.DetailFunc(ctx)
	}
	return nil, e.check.Func(ctx)
}

func (e *entry) newOutcome(at time.Time, took time.Duration, details map[string]any, err error) *outcome {
	st := StatusPass
	if err != nil {
		st = StatusFail
	}
	return &outcome{
		Result: Result{
			Name: e.name, Status: st, Critical: e.critical, Liveness: e.liveness,
			Err: err, Details: details, Timestamp: at, Duration: took,
		},
		expires: at.Add(e.ttl),
	}
}

// publish makes o the check's latest result (and the result of r, when o
// ends a run; abandoned when the function has not returned), then logs it
// and calls the listeners, outside the lock. For a run, the first publish
// wins: a function returning after its timeout changes nothing.
func (e *entry) publish(o *outcome, r *run, abandoned bool) *outcome {
	e.mu.Lock()
	if r != nil {
		if r.settled {
			e.mu.Unlock()
			return r.res
		}
		r.res, r.settled, r.abandoned = o, true, abandoned
		// Counted before the result is visible to anyone, so that a
		// caller who has it also finds the run in the metrics.
		e.ran(o)
	}
	prev := e.last.Swap(o)
	e.mu.Unlock()
	if r != nil {
		close(r.done)
	}
	e.report(prev, o)
	return o
}

// report logs a new result and calls the listeners when the status changed.
// A failure is news once: the run that turns a check to failing is logged at
// warn (a panic at error) with its full error; while it keeps failing, each
// run is logged at debug, with its error; the run that passes again at info.
// So a check down for an hour logs two lines above debug per replica, not one
// per TTL.
func (e *entry) report(prev, o *outcome) {
	before := StatusUnknown
	if prev != nil {
		before = prev.Status
	}
	stillFailing := before == StatusFail
	took := zap.Duration(grellog.FieldDuration, o.Duration)
	op := zap.String(grellog.FieldOp, "check")
	var pe, prevPanic *PanicError
	wasPanicking := stillFailing && errors.As(prev.Err, &prevPanic)
	switch {
	case o.Err == nil && stillFailing:
		e.log.Info("health check recovered", op, took, zap.String(grellog.FieldState, string(StatusPass)))
	case o.Err == nil:
		e.log.Debug("health check passed", op, took)
	case errors.Is(o.Err, ErrStopped):
		e.log.Debug("health check not run: checker stopped", op)
	case errors.Is(o.Err, ErrStillRunning) && stillFailing:
		// The timeout was logged when the check turned to failing.
		e.log.Debug("health check still running after its timeout", op, took, zap.Error(o.Err))
	case errors.As(o.Err, &pe) && !wasPanicking:
		// A panic is a bug: logged at error, with its stack, when the
		// check starts panicking (also after failing otherwise).
		e.log.Error("health check panicked", op, took, zap.Error(o.Err), zap.ByteString("stack", pe.Stack))
	case stillFailing:
		e.log.Debug("health check still failing", op, took, zap.Error(o.Err), zap.String(grellog.FieldState, string(StatusFail)))
	default:
		e.log.Warn("health check failed", op, took, zap.Error(o.Err), zap.String(grellog.FieldState, string(StatusFail)))
	}
	if before == o.Status || len(e.c.listeners) == 0 {
		return
	}
	ch := StatusChange{Name: e.name, Previous: before, Result: o.Result}
	for _, l := range e.c.listeners {
		e.callListener(l, ch)
	}
}

func (e *entry) callListener(l func(StatusChange), ch StatusChange) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("health status listener panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	l(ch)
}

func zapName(name string) zap.Field { return zap.String(grellog.FieldName, name) }
func zapErr(err error) zap.Field    { return zap.Error(err) }
