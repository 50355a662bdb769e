package grellock

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap"
)

// Callbacks are the election's hooks. OnNewLeader and OnStoppedLeading run
// on the campaign goroutine (the one [LeaderElection.Start] starts, or the
// caller of [LeaderElection.Run]), one at a time; OnStartedLeading runs on
// a goroutine of its own. None may block for long except OnStartedLeading,
// which must return once its context is cancelled.
type Callbacks struct {
	// OnStartedLeading runs when this candidate becomes leader. ctx is
	// cancelled when leadership ends (lost, or the election stopped); the
	// next term does not start before it returns.
	OnStartedLeading func(ctx context.Context)
	// OnStoppedLeading runs when a term of this candidate ends, after
	// OnStartedLeading returned; never without a term before it.
	OnStoppedLeading func()
	// OnNewLeader runs when the leader seen by an acquisition attempt
	// changes, with its identity (this candidate's own included).
	OnNewLeader func(identity string)
}

// LeaderRecord is what the store says about the leader.
type LeaderRecord struct {
	// Holder is the leader's identity; empty when there is none.
	Holder string
	// Fence is the fencing token of the current (or last) term.
	Fence uint64
	// AcquiredAt is when the current leader's term began (store clock).
	AcquiredAt time.Time
	// RenewedAt is when its lease was last renewed (store clock).
	RenewedAt time.Time
	// LeaseDuration is the lease of its term.
	LeaseDuration time.Duration
	// Transitions counts leadership changes.
	Transitions int64
	// Metadata is what the leader published with [WithMetadata].
	Metadata map[string]string
}

func leaderRecord(r Record) LeaderRecord {
	return LeaderRecord{Holder: r.Holder, Fence: r.Fence, AcquiredAt: r.AcquiredAt, RenewedAt: r.RenewedAt,
		LeaseDuration: r.Lease, Transitions: r.Transitions, Metadata: maps.Clone(r.Metadata)}
}

// LeaderElection is a campaign for one name: at most one candidate leads at
// a time (see the package documentation for what that does and does not
// mean). A candidate keeps campaigning after it loses leadership, until it
// is stopped; stopping releases the lease so a successor takes over at once.
type LeaderElection struct {
	c    *core
	cfg  atomic.Pointer[ElectionConfig]
	cb   Callbacks
	meta map[string]string
	bind grelconfig.Reloadable

	running atomic.Bool
	mu      sync.Mutex
	stop    context.CancelFunc // of the campaign started by Start
	done    chan struct{}
	term    *term         // the current term, nil when not leading
	termCh  chan struct{} // closed when a term starts
	record  LeaderRecord  // last observed
	// announced is the leader last reported to OnNewLeader (seen: any).
	announced string
	seen      bool
}

type term struct {
	ctx  context.Context
	hold *Hold
}

var _ grelconfig.Reloadable = (*LeaderElection)(nil)

// NewLeaderElection returns a candidate for name on backend. Its config is
// resolved from opts, then GREL_LEADERELECTION_{NAME}_*, then
// GREL_LEADERELECTION_*, then the defaults, and validated (LeaseDuration >
// RenewDeadline > 1.2 x RetryInterval, LeaseDuration - RenewDeadline >=
// SafetyMargin(LeaseDuration)).
func NewLeaderElection(name string, backend Backend, opts ...Option) (*LeaderElection, error) {
	o, err := collect(kindElection, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := electionSpec.Resolve(o.registry, name, o.election.list...)
	if err != nil {
		return nil, err
	}
	return newElection(name, backend, cfg, o)
}

// NewLeaderElectionFromConfig returns a candidate with cfg as-is (config
// options in opts applied on top); it reads no environment.
func NewLeaderElectionFromConfig(name string, backend Backend, cfg ElectionConfig, opts ...Option) (*LeaderElection, error) {
	o, err := collect(kindElection, opts)
	if err != nil {
		return nil, err
	}
	o.election.applyTo(&cfg)
	if err := electionSpec.Validate(cfg); err != nil {
		return nil, err
	}
	return newElection(name, backend, cfg, o)
}

func newElection(name string, backend Backend, cfg ElectionConfig, o *options) (*LeaderElection, error) {
	c, err := newCore("leaderelection", name, backend, cfg.Worker, o)
	if err != nil {
		return nil, err
	}
	cfg.Worker = c.identity
	e := &LeaderElection{c: c, cb: o.callbacks, meta: o.metadata, termCh: make(chan struct{})}
	e.cfg.Store(&cfg)
	e.bind = electionSpec.Bind(name, o.election.list, e.Reconfigure)
	if c.tel != nil {
		if err := c.tel.observeLeader(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Name returns the election's name.
func (e *LeaderElection) Name() string { return e.c.name }

// Identity returns this candidate's identity.
func (e *LeaderElection) Identity() string { return e.c.identity }

// Config returns the running config.
func (e *LeaderElection) Config() ElectionConfig { return *e.cfg.Load() }

// Reconfigure validates cfg and makes it the running config from the next
// renewal or attempt on. The identity cannot change; an empty Worker keeps
// it.
func (e *LeaderElection) Reconfigure(cfg ElectionConfig) error {
	if err := electionSpec.Validate(cfg); err != nil {
		return err
	}
	if cfg.Worker != "" && cfg.Worker != e.c.identity {
		return errIdentity
	}
	cfg.Worker = e.c.identity
	e.cfg.Store(&cfg)
	return nil
}

// ConfigKey implements [grelconfig.Reloadable].
func (e *LeaderElection) ConfigKey() grelconfig.Key { return e.bind.ConfigKey() }

// Reload implements [grelconfig.Reloadable].
func (e *LeaderElection) Reload(reg *grelconfig.Registry) error { return e.bind.Reload(reg) }

func (e *LeaderElection) leases() (time.Duration, time.Duration) {
	cfg := e.cfg.Load()
	return cfg.LeaseDuration, cfg.RenewDeadline
}

func (e *LeaderElection) renewEvery(bool) time.Duration {
	cfg := e.cfg.Load()
	return jittered(cfg.RetryInterval, cfg.Jitter)
}

// observe records what a renewal returned (on the renewal goroutine). A
// new leader is reported by the campaign goroutine, at its next attempt.
func (e *LeaderElection) observe(rec Record) {
	if rec.Name == "" {
		return
	}
	e.mu.Lock()
	e.record = leaderRecord(rec)
	e.mu.Unlock()
}

// observeLeader records what an attempt returned and reports a new leader;
// it runs on the campaign goroutine.
func (e *LeaderElection) observeLeader(rec Record) {
	if rec.Name == "" {
		return
	}
	e.mu.Lock()
	changed := !e.seen || rec.Holder != e.announced
	e.seen = true
	e.announced = rec.Holder
	e.record = leaderRecord(rec)
	e.mu.Unlock()
	if changed && rec.Holder != "" {
		e.c.log.Info("new leader", zap.String(grellog.FieldHolder, rec.Holder), zap.Uint64(grellog.FieldFence, rec.Fence))
		if e.cb.OnNewLeader != nil {
			e.cb.OnNewLeader(rec.Holder)
		}
	}
}

// IsLeader reports whether this candidate leads now.
func (e *LeaderElection) IsLeader() bool {
	e.mu.Lock()
	t := e.term
	e.mu.Unlock()
	return t != nil && t.hold.Err() == nil
}

// leading is IsLeader for the gauge: it marks no hold lost.
func (e *LeaderElection) leading(now time.Time) bool {
	e.mu.Lock()
	t := e.term
	e.mu.Unlock()
	return t != nil && t.hold.validAt(now)
}

// Record returns the leader record last observed by this candidate (from
// its own attempts and renewals).
func (e *LeaderElection) Record() LeaderRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.record
	r.Metadata = maps.Clone(r.Metadata)
	return r
}

// Leader reads the leader record from the store.
func (e *LeaderElection) Leader(ctx context.Context) (LeaderRecord, error) {
	rec, err := e.c.backend.Get(ctx, e.c.name)
	if err != nil {
		return LeaderRecord{}, err
	}
	return leaderRecord(rec), nil
}

// Start starts campaigning on a goroutine the election owns and returns at
// once. ctx only bounds the start (its values are kept, not its
// cancellation); [LeaderElection.Stop] ends the campaign.
func (e *LeaderElection) Start(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	e.mu.Lock()
	e.stop, e.done = cancel, done
	e.mu.Unlock()
	go func() {
		defer close(done)
		e.campaign(rctx)
		// Stop keeps finding this campaign until here.
		e.mu.Lock()
		if e.done == done {
			e.stop, e.done = nil, nil
		}
		e.mu.Unlock()
		e.running.Store(false)
	}()
	return nil
}

// Stop ends a campaign started by Start: it cancels the leader's context,
// waits for OnStartedLeading to return, releases the lease and runs
// OnStoppedLeading. It returns ctx's error if that takes longer than ctx
// allows; the campaign still ends, and until it has, another Stop waits for
// it again and Start returns [ErrRunning].
func (e *LeaderElection) Stop(ctx context.Context) error {
	e.mu.Lock()
	cancel, done := e.stop, e.done
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run campaigns until ctx is done, then steps down like Stop and returns
// nil. It returns [ErrRunning] if the election is already campaigning.
func (e *LeaderElection) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer e.running.Store(false)
	e.campaign(ctx)
	return nil
}

func (e *LeaderElection) campaign(ctx context.Context) {
	token := e.c.newToken()
	for ctx.Err() == nil {
		h, rec, err := e.c.attempt(ctx, token, e, e.meta, nil)
		e.observeLeader(rec)
		if err == nil {
			e.lead(ctx, h)
			token = e.c.newToken()
		} else if !errors.Is(err, ErrNotAcquired) && ctx.Err() == nil {
			e.c.log.Warn("election store error", zapOp("acquire"), zapErr(err))
		}
		cfg := e.cfg.Load()
		if !sleep(ctx, jittered(cfg.RetryInterval, cfg.Jitter)) {
			return
		}
	}
}

// lead runs one term: it renews every RetryInterval until the hold is lost
// or ctx is done.
func (e *LeaderElection) lead(ctx context.Context, h *Hold) {
	tctx, cancel := h.Bind(ctx)
	e.mu.Lock()
	e.term = &term{ctx: tctx, hold: h}
	close(e.termCh)
	e.termCh = make(chan struct{})
	e.mu.Unlock()
	e.c.tel.transition(ctx, toLeader)
	e.c.log.Info("started leading", zap.String(grellog.FieldState, "leader"), zap.Uint64(grellog.FieldFence, h.fence))

	var cbDone chan struct{}
	if e.cb.OnStartedLeading != nil {
		cbDone = make(chan struct{})
		go func() {
			defer close(cbDone)
			e.cb.OnStartedLeading(tctx)
		}()
	}
	h.keepAlive()
	select {
	case <-ctx.Done():
	case <-h.Done():
	}

	e.mu.Lock()
	e.term = nil
	e.mu.Unlock()
	cancel()
	if cbDone != nil {
		<-cbDone
	}
	// Free the lease so a successor need not wait for it to expire: on stop
	// before OnStoppedLeading (bounded by RenewDeadline); after a loss the
	// store usually refuses or does not answer, so it is tried after
	// OnStoppedLeading and bounded by RetryInterval.
	cfg := e.cfg.Load()
	release := func(d time.Duration) error {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), d)
		defer rcancel()
		return h.Release(rctx)
	}
	if ctx.Err() != nil {
		err := release(cfg.RenewDeadline)
		e.c.tel.transition(ctx, toStopped)
		e.c.log.Info("stepped down", zap.String(grellog.FieldState, "stopped"), zap.Uint64(grellog.FieldFence, h.fence), zap.NamedError("release_error", err))
		if e.cb.OnStoppedLeading != nil {
			e.cb.OnStoppedLeading()
		}
		return
	}
	e.c.tel.transition(ctx, toFollower)
	e.c.log.Info("stopped leading", zap.String(grellog.FieldState, "follower"), zap.Uint64(grellog.FieldFence, h.fence), zap.Error(h.Err()))
	if e.cb.OnStoppedLeading != nil {
		e.cb.OnStoppedLeading()
	}
	_ = release(cfg.RetryInterval)
}

// RunWhileLeader waits until this candidate leads (the campaign must be
// running), then runs fn with a context derived from ctx that is cancelled
// when leadership ends; it returns fn's error, or ctx's error if ctx ends
// before leadership begins.
func (e *LeaderElection) RunWhileLeader(ctx context.Context, fn func(ctx context.Context) error) error {
	for {
		e.mu.Lock()
		t, ch := e.term, e.termCh
		e.mu.Unlock()
		if t != nil && t.hold.Err() == nil {
			fctx, cancel := t.hold.Bind(ctx)
			err := fn(fctx)
			cancel()
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
