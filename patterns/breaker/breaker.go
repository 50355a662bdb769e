package grelbreaker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// Breaker is a circuit breaker: it runs calls while they mostly succeed,
// refuses them (with an [*OpenError]) for a while after they mostly fail,
// then lets a few trial calls decide. It is safe for concurrent use.
type Breaker struct {
	name     string
	key      string // the Backend key
	groupKey string // the key in a Group, "" otherwise
	cfg      *atomic.Pointer[Config]

	// core is the state machine on a Memory backend (the fast path); nil
	// on a shared store.
	core *core
	// remote is the shared store; local is this process's own copy, which
	// decides while the store is unavailable.
	remote Backend
	local  *core

	backendDesc string
	failIf      grelmatch.Matcher
	ignoreIf    grelmatch.Matcher
	usesResult  bool
	log         *zap.Logger
	tracer      trace.Tracer // nil for the no-op provider
	listeners   []func(Event)
	onDegraded  []func(DegradedEvent)
	notes       notifier
	tel         *telemetry
	ownTel      bool
	binding     grelconfig.Reloadable

	// seen is the generation last announced: the low 30 bits of the core's
	// on Memory, the store's generation on a shared store.
	seen    atomic.Uint64
	started atomic.Bool

	view      atomic.Pointer[view]
	degraded  atomic.Bool
	nextProbe atomic.Int64
	epoch     time.Time
}

var (
	_ grelconfig.Reloadable = (*Breaker)(nil)
	_ error                 = (*OpenError)(nil)
)

// New returns a breaker named name (empty for the default instance) on
// backend (nil for a fresh [Memory]). Its config is resolved in the order
// of the contract: options, then GREL_BREAKER_{NAME}_{FIELD}, then
// GREL_BREAKER_{FIELD}, then the defaults.
func New(name string, backend Backend, opts ...Option) (*Breaker, error) {
	o := collect(opts)
	cfg, err := spec.Resolve(o.registry, name, o.settings...)
	if err != nil {
		return nil, newError(name, err)
	}
	b, err := build(name, backend, cfg, o, nil)
	if err != nil {
		return nil, err
	}
	b.binding = spec.Bind(name, o.settings, b.Reconfigure)
	return b, nil
}

// NewFromConfig returns a breaker with cfg as given (config options are
// applied on top of it); it reads no environment.
func NewFromConfig(name string, backend Backend, cfg Config, opts ...Option) (*Breaker, error) {
	o := collect(opts)
	cfg, err := fromConfig(name, cfg, o)
	if err != nil {
		return nil, err
	}
	return build(name, backend, cfg, o, nil)
}

func fromConfig(name string, cfg Config, o *options) (Config, error) {
	cfg, err := instance.FromConfig(spec, name, cfg, o.settings, normalize)
	if err != nil {
		return cfg, newError(name, err)
	}
	return cfg, nil
}

func newError(name string, err error) error {
	return instance.Error("grelbreaker", "breaker", name, err)
}

func collect(opts []Option) *options {
	return instance.Collect(&options{logger: zap.NewNop(), failIf: grelmatch.AnyError(), ignoreIf: grelmatch.CallerCanceled()}, opts)
}

func describe(backend Backend, o *options) string {
	if o.backendDesc != "" {
		return o.backendDesc
	}
	if s, ok := backend.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", backend)
}

// memberOf carries what a Group shares with its breakers.
type memberOf struct {
	key string
	cfg *atomic.Pointer[Config]
	tel *telemetry
}

func build(name string, backend Backend, cfg Config, o *options, group *memberOf) (*Breaker, error) {
	if backend == nil {
		backend = NewMemory()
	}
	b := &Breaker{
		name:        name,
		key:         name,
		failIf:      o.failIf,
		ignoreIf:    o.ignoreIf,
		usesResult:  o.failIf.UsesResult() || o.ignoreIf.UsesResult(),
		listeners:   o.listeners,
		onDegraded:  o.onDegraded,
		backendDesc: describe(backend, o),
		epoch:       time.Now(),
	}
	if o.key != "" {
		b.key = o.key
	}
	fields := []zap.Field{zap.String(grellog.FieldPattern, "breaker"), zap.String(grellog.FieldName, name), zap.String(grellog.FieldBackend, b.backendDesc)}
	if group != nil {
		b.groupKey = group.key
		b.key = b.key + "/" + group.key
		b.cfg = group.cfg
		b.tel = group.tel
		fields = append(fields, zap.String(grellog.FieldKey, group.key))
	} else {
		b.cfg = new(atomic.Pointer[Config])
		b.cfg.Store(&cfg)
	}
	b.log = o.logger.With(fields...)
	if tp := o.tracer; tp != nil {
		if _, isNoop := tp.(noop.TracerProvider); !isNoop {
			b.tracer = tp.Tracer(MeterName)
		}
	}
	c := b.cfg.Load()
	if m, ok := backend.(*Memory); ok {
		b.core = m.core(b.key)
		b.core.sync(c)
		b.seen.Store(genOf(b.core.word.Load()))
	} else {
		b.remote = backend
		b.local = newCore()
		b.local.sync(c)
	}
	if group == nil {
		tel, err := newBreakerTelemetry(o.meter, b)
		if err != nil {
			return nil, fmt.Errorf("grelbreaker: breaker %q: metrics: %w", name, err)
		}
		b.tel, b.ownTel = tel, true
	}
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Config returns the running config.
func (b *Breaker) Config() Config { return *b.cfg.Load() }

// Reconfigure validates cfg and makes it the running config from the next
// call on. The state, the counts and the open deadline are kept; a window
// of another shape (algorithm, size, duration, buckets) starts empty.
func (b *Breaker) Reconfigure(cfg Config) error {
	cfg = normalize(cfg)
	if err := spec.Validate(cfg); err != nil {
		return newError(b.name, err)
	}
	b.cfg.Store(&cfg)
	return nil
}

// ConfigKey identifies the breaker in a [grelconfig.Registry].
func (b *Breaker) ConfigKey() grelconfig.Key { return grelconfig.Key{Kind: Kind, Instance: b.name} }

// Reload resolves the config again from reg's source and applies it. A
// breaker made by NewFromConfig keeps its config.
func (b *Breaker) Reload(reg *grelconfig.Registry) error {
	if b.binding == nil {
		return nil
	}
	return b.binding.Reload(reg)
}

// Degraded reports whether the breaker decides on its local state because
// its shared store is unavailable. It is always false on Memory.
func (b *Breaker) Degraded() bool { return b.degraded.Load() }

// ticket is one admitted call.
type ticket struct {
	w      uint64 // the word it was admitted under (Memory or local)
	gen    uint64 // the store generation (remote)
	state  State
	remote bool
	local  bool // admitted by the local fallback
}

// Execute runs fn if the breaker admits it and counts its outcome; it
// returns fn's error as is, or an [*OpenError] without running fn. On
// Memory in the closed state it takes no lock and allocates nothing.
func (b *Breaker) Execute(ctx context.Context, fn func(ctx context.Context) error) error {
	cfg := b.cfg.Load()
	if c := b.core; c != nil {
		w := c.word.Load()
		if genOf(w) != b.seen.Load() {
			b.catchUp(ctx, cfg)
		}
		if stateOf(w) != StateClosed || cfg.SlowCallDuration > 0 {
			return b.execute(ctx, cfg, fn)
		}
		err := fn(ctx)
		o := OutcomeSuccess
		if err != nil || b.usesResult {
			o = b.outcome(ctx, err)
		}
		if m := c.record(cfg, genOf(w), o, false, b); m.ok {
			b.moved(ctx, c, m, err)
		}
		return err
	}
	return b.execute(ctx, cfg, fn)
}

func (b *Breaker) execute(ctx context.Context, cfg *Config, fn func(ctx context.Context) error) error {
	t, err := b.admit(ctx, cfg)
	if err != nil {
		return err
	}
	var start time.Time
	if cfg.SlowCallDuration > 0 {
		start = time.Now()
	}
	err = fn(ctx)
	o := OutcomeSuccess
	if err != nil || b.usesResult {
		o = b.outcome(ctx, err)
	}
	b.finish(ctx, cfg, t, o, cfg.SlowCallDuration > 0 && time.Since(start) >= cfg.SlowCallDuration, err)
	return err
}

// ExecuteValue is [Breaker.Execute] for a function that returns a value.
// Result predicates of the failure and ignore matchers see the value.
func ExecuteValue[T any](ctx context.Context, b *Breaker, fn func(ctx context.Context) (T, error)) (T, error) {
	cfg := b.cfg.Load()
	t, err := b.admit(ctx, cfg)
	if err != nil {
		var zero T
		return zero, err
	}
	var start time.Time
	if cfg.SlowCallDuration > 0 {
		start = time.Now()
	}
	v, err := fn(ctx)
	o := OutcomeSuccess
	if err != nil || b.usesResult {
		switch {
		case grelmatch.MatchValue(ctx, b.ignoreIf, v, err):
			o = OutcomeIgnored
		case grelmatch.MatchValue(ctx, b.failIf, v, err):
			o = OutcomeFailure
		}
	}
	b.finish(ctx, cfg, t, o, cfg.SlowCallDuration > 0 && time.Since(start) >= cfg.SlowCallDuration, err)
	return v, err
}

// Allow is the two-step form for code that cannot be wrapped: it admits a
// call or refuses it (an [*OpenError]); the caller then runs the call and
// reports its error to done, exactly once (later calls of done are
// ignored). A done never called holds a half-open trial slot until the
// open duration passes.
func (b *Breaker) Allow(ctx context.Context) (done func(err error), err error) {
	cfg := b.cfg.Load()
	t, err := b.admit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var start time.Time
	if cfg.SlowCallDuration > 0 {
		start = time.Now()
	}
	var once atomic.Bool
	return func(err error) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		o := OutcomeSuccess
		if err != nil || b.usesResult {
			o = b.outcome(ctx, err)
		}
		b.finish(ctx, cfg, t, o, cfg.SlowCallDuration > 0 && time.Since(start) >= cfg.SlowCallDuration, err)
	}, nil
}

func (b *Breaker) outcome(ctx context.Context, err error) Outcome {
	switch {
	case b.ignoreIf.Match(ctx, err):
		return OutcomeIgnored
	case b.failIf.Match(ctx, err):
		return OutcomeFailure
	}
	return OutcomeSuccess
}

func (b *Breaker) admit(ctx context.Context, cfg *Config) (ticket, error) {
	c := b.core
	if c == nil {
		return b.admitRemote(ctx, cfg)
	}
	w := c.word.Load()
	if genOf(w) != b.seen.Load() {
		b.catchUp(ctx, cfg)
	}
	if stateOf(w) == StateClosed {
		return ticket{w: w, state: StateClosed}, nil
	}
	return b.admitCore(ctx, cfg, c)
}

// admitCore asks a core (the Memory one, or the local fallback).
func (b *Breaker) admitCore(ctx context.Context, cfg *Config, c *core) (ticket, error) {
	d := c.admit(cfg, b)
	if d.moved.ok {
		b.moved(ctx, c, d.moved, nil)
	}
	if !d.ok {
		return ticket{}, b.refuse(ctx, d.state, d.remaining)
	}
	return ticket{w: d.w, state: d.state, local: c == b.local}, nil
}

func (b *Breaker) finish(ctx context.Context, cfg *Config, t ticket, o Outcome, slow bool, cause error) {
	switch {
	case t.remote:
		b.recordRemote(ctx, cfg, t, o, slow, cause)
	case t.local:
		if m := b.local.record(cfg, genOf(t.w), o, slow, b); m.ok {
			b.moved(ctx, b.local, m, cause)
		}
	default:
		if m := b.core.record(cfg, genOf(t.w), o, slow, b); m.ok {
			b.moved(ctx, b.core, m, cause)
		}
	}
}

// refuse builds the error of a refused call.
func (b *Breaker) refuse(ctx context.Context, s State, remaining time.Duration) error {
	e := &OpenError{Name: b.name, Key: b.groupKey, State: s}
	if s == StateOpen {
		e.Until = time.Now().Add(remaining)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("grel.breaker.rejected", trace.WithAttributes(
			attribute.String("grel.name", b.name), attribute.String("grel.breaker.state", s.String())))
	}
	return e
}

// moved announces a transition made on core c by this breaker's operation.
// The local copy of a shared state changes silently while the store
// decides.
func (b *Breaker) moved(ctx context.Context, c *core, m moved, cause error) {
	b.settle(ctx, c, m, cause, false)
}

// settle fills the delivery slot transition m took: with its event, or
// with nothing for a silent change of the local copy or a manual set to the
// state the key was in.
func (b *Breaker) settle(ctx context.Context, c *core, m moved, cause error, manual bool) {
	if !m.slot {
		return
	}
	local := c == b.local
	if local && !b.degraded.Load() || m.tr.From == m.tr.To {
		b.skip(m)
		return
	}
	b.announce(ctx, m.seq, m.tr, cause, manual, local)
}

// catchUp announces a transition made by another breaker (or a Backend
// call) on the same Memory key. It takes its slot under the core's lock,
// so that it is delivered in the order of the transitions.
func (b *Breaker) catchUp(ctx context.Context, cfg *Config) {
	c := b.core
	c.mu.Lock()
	g := genOf(c.word.Load())
	s := b.seen.Load()
	if s == g {
		c.mu.Unlock()
		return
	}
	b.seen.Store(g)
	tr := c.last
	if c.lastGen == 0 || c.lastGen&genMask == s || c.lastBy == b {
		// Announced already (the generation moved without a transition),
		// or ours: the goroutine that made it announces it.
		c.mu.Unlock()
		return
	}
	seq := b.notes.reserve()
	c.mu.Unlock()
	b.announce(ctx, seq, tr, nil, false, false)
}

// State returns the breaker's state. An open breaker whose open duration
// has passed reports StateHalfOpen (and, on Memory, moves to it). On a
// shared store the state is the local copy, at most Staleness old while
// calls flow.
func (b *Breaker) State() State {
	cfg := b.cfg.Load()
	if c := b.core; c != nil {
		w := c.word.Load()
		if stateOf(w) == StateOpen {
			if now := c.now(); now >= c.openUntil.Load() {
				if m := c.transition(cfg, w, StateHalfOpen, now, 0, b); m.ok {
					b.moved(context.Background(), c, m, nil)
				}
				return stateOf(c.word.Load())
			}
		}
		return stateOf(w)
	}
	return b.peekState()
}

// peekState returns the state without moving it.
func (b *Breaker) peekState() State {
	if c := b.core; c != nil {
		w := c.word.Load()
		if stateOf(w) == StateOpen && c.now() >= c.openUntil.Load() {
			return StateHalfOpen
		}
		return stateOf(w)
	}
	if b.degraded.Load() {
		w := b.local.word.Load()
		if stateOf(w) == StateOpen && b.local.now() >= b.local.openUntil.Load() {
			return StateHalfOpen
		}
		return stateOf(w)
	}
	v := b.view.Load()
	if v == nil {
		return StateClosed
	}
	if v.snap.State == StateOpen && b.now() >= v.until {
		return StateHalfOpen
	}
	return v.snap.State
}

// Counts returns the counts since the last transition. On a shared store
// they are the store's, as of the last operation.
func (b *Breaker) Counts() Counts {
	cfg := b.cfg.Load()
	if c := b.core; c != nil {
		return c.snapshot(cfg).Counts
	}
	if b.degraded.Load() {
		return b.local.snapshot(cfg).Counts
	}
	if v := b.view.Load(); v != nil {
		return v.snap.Counts
	}
	return Counts{}
}

// totals returns every outcome recorded, stale ones included, for metrics.
func (b *Breaker) totals() totals {
	if b.core != nil {
		return b.core.rawTotals()
	}
	return b.local.rawTotals()
}

// Open opens the breaker now, for its open duration (manual trip).
func (b *Breaker) Open(ctx context.Context) error { return b.set(ctx, StateOpen) }

// ForceOpen opens the breaker until [Breaker.Close].
func (b *Breaker) ForceOpen(ctx context.Context) error { return b.set(ctx, StateForcedOpen) }

// Close closes the breaker now, with fresh counts.
func (b *Breaker) Close(ctx context.Context) error { return b.set(ctx, StateClosed) }

func (b *Breaker) set(ctx context.Context, to State) error {
	cfg := b.cfg.Load()
	if c := b.core; c != nil {
		b.settle(ctx, c, c.set(cfg, to, b), nil, true)
		return nil
	}
	return b.setRemote(ctx, cfg, to)
}

// Start announces the initial state to the listeners (Event.Initial) and,
// on a shared store, reads it (one round trip; a store that does not answer
// makes the breaker start on local state). The Fx module calls it; without
// Fx, call it once before use if you need the announcement.
func (b *Breaker) Start(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return nil
	}
	cfg := b.cfg.Load()
	initial := func(snap Snapshot) notice {
		return notice{ev: Event{Name: b.name, Key: b.groupKey, From: snap.State, To: snap.State, Counts: snap.Counts, Initial: true}}
	}
	if c := b.core; c != nil {
		c.sync(cfg)
		c.mu.Lock()
		snap := c.snapshotLocked()
		b.seen.Store(snap.Generation & genMask)
		seq := b.notes.reserve()
		c.mu.Unlock()
		b.fill(seq, initial(snap), false)
		return nil
	}
	b.notify(initial(b.startRemote(ctx, cfg)))
	return nil
}

// Stop releases the breaker's metric instruments. The breaker keeps
// working; only its metrics stop.
func (b *Breaker) Stop(context.Context) error {
	if !b.ownTel {
		return nil
	}
	return b.tel.stop()
}

// String describes the breaker.
func (b *Breaker) String() string {
	return fmt.Sprintf("grelbreaker.Breaker(%q, %s, %s)", b.name, b.backendDesc, b.peekState())
}
