package grelbulkhead

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	"go.opentelemetry.io/otel/metric"
)

// Kind is the config kind of bulkheads: GREL_BULKHEAD_{NAME}_{FIELD}.
const Kind = "BULKHEAD"

// Config holds a bulkhead's tunable values.
type Config struct {
	// MaxConcurrent is the number of calls that run at the same time.
	// Default 10.
	MaxConcurrent int
	// MaxWaiting is the number of calls that may wait for a slot; 0 refuses
	// at once when every slot is taken. Default 0.
	MaxWaiting int
	// MaxWait bounds the wait for a slot; 0 waits as long as the caller's
	// context allows. Default 0.
	MaxWait time.Duration
}

var spec = grelconfig.NewSpec[Config](Kind)

var (
	maxConcurrentField = spec.Int("MAX_CONCURRENT", func(c *Config) *int { return &c.MaxConcurrent }, 10, grelconfig.Positive[int]()).Doc("calls running at the same time")
	maxWaitingField    = spec.Int("MAX_WAITING", func(c *Config) *int { return &c.MaxWaiting }, 0, grelconfig.NonNegative[int]()).Doc("calls waiting for a slot; 0 refuses at once")
	maxWaitField       = spec.Duration("MAX_WAIT", func(c *Config) *time.Duration { return &c.MaxWait }, 0, grelconfig.NonNegative[time.Duration]()).Doc("bound of a wait; 0 for the context's")
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return spec.Defaults() }

// Spec returns the declaration of the bulkhead config.
func Spec() *grelconfig.Spec[Config] { return spec }

// ErrBulkheadFull matches every [*FullError] with errors.Is.
var ErrBulkheadFull = errors.New("grelbulkhead: full")

// FullError is returned, without running the call, when every slot is taken
// and the wait queue is full, or the wait lasted MaxWait.
type FullError struct {
	// Name is the bulkhead's name.
	Name string
	// Waited is how long the call waited for a slot (0: it did not queue).
	Waited time.Duration
}

func (e *FullError) Error() string {
	s := "grelbulkhead: "
	if e.Name != "" {
		s += e.Name + ": "
	}
	if e.Waited > 0 {
		return s + "full after waiting " + e.Waited.String()
	}
	return s + "full"
}

// Is reports whether target is [ErrBulkheadFull].
func (e *FullError) Is(target error) bool { return target == ErrBulkheadFull }

// Bulkhead lets at most MaxConcurrent calls run at the same time, with an
// optional bounded queue of waiting calls. It is safe for concurrent use.
type Bulkhead struct {
	name     string
	cfg      atomic.Pointer[Config]
	inflight atomic.Int64
	nwait    atomic.Int64
	mu       sync.Mutex
	waiters  list.List // of *waiter, oldest first
	binding  grelconfig.Reloadable
	tel      *telemetry // nil when the meter provider is the no-op one
}

type waiter struct {
	ready   chan struct{} // a slot was handed over
	removed bool          // under mu: taken off the queue by a release
}

var _ grelconfig.Reloadable = (*Bulkhead)(nil)

// Option configures a [Bulkhead].
type Option func(*options)

type options struct {
	settings []grelconfig.Setting[Config] // resolved by New, applied on top of NewFromConfig's Config
	registry *grelconfig.Registry
	meter    metric.MeterProvider
}

// setting is the option of a config field.
func setting[T any](f *grelconfig.Field[Config, T], v T) Option {
	s := f.Set(v)
	return func(o *options) { o.settings = append(o.settings, s) }
}

// WithMaxConcurrent sets the calls that run at the same time.
func WithMaxConcurrent(n int) Option { return setting(maxConcurrentField, n) }

// WithMaxWaiting sets the calls that may wait for a slot.
func WithMaxWaiting(n int) Option { return setting(maxWaitingField, n) }

// WithMaxWait bounds the wait for a slot.
func WithMaxWait(d time.Duration) Option { return setting(maxWaitField, d) }

// WithMeterProvider emits the bulkhead's metrics: the gauges
// grel.bulkhead.in_flight and grel.bulkhead.waiting (read at collection),
// the counter grel.bulkhead.rejections (reason) and the histogram
// grel.bulkhead.queue_wait (outcome), all with grel.name. The default, and
// the no-op provider, emit nothing.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meter = mp } }

// WithRegistry sets where the config is read from and recorded.
func WithRegistry(r *grelconfig.Registry) Option { return func(o *options) { o.registry = r } }

func collect(opts []Option) *options { return instance.Collect(&options{}, opts) }

func newError(name string, err error) error {
	return instance.Error("grelbulkhead", "bulkhead", name, err)
}

// New returns a bulkhead named name, its config resolved from options, then
// GREL_BULKHEAD_{NAME}_{FIELD}, then GREL_BULKHEAD_{FIELD}, then defaults.
func New(name string, opts ...Option) (*Bulkhead, error) {
	o := collect(opts)
	cfg, err := spec.Resolve(o.registry, name, o.settings...)
	if err != nil {
		return nil, newError(name, err)
	}
	b, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	b.binding = spec.Bind(name, o.settings, b.Reconfigure)
	return b, nil
}

// NewFromConfig returns a bulkhead with cfg as given; it reads no
// environment.
func NewFromConfig(name string, cfg Config, opts ...Option) (*Bulkhead, error) {
	o := collect(opts)
	cfg, err := instance.FromConfig(spec, name, cfg, o.settings, nil)
	if err != nil {
		return nil, newError(name, err)
	}
	b, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	return b, nil
}

func build(name string, cfg Config, o *options) (*Bulkhead, error) {
	b := &Bulkhead{name: name}
	b.cfg.Store(&cfg)
	tel, err := newTelemetry(o.meter, b)
	if err != nil {
		return nil, err
	}
	b.tel = tel
	return b, nil
}

// Name returns the bulkhead's name.
func (b *Bulkhead) Name() string { return b.name }

// Config returns the running config.
func (b *Bulkhead) Config() Config { return *b.cfg.Load() }

// InFlight returns the number of calls holding a slot.
func (b *Bulkhead) InFlight() int { return int(b.inflight.Load()) }

// Waiting returns the number of calls waiting for a slot.
func (b *Bulkhead) Waiting() int { return int(b.nwait.Load()) }

// Reconfigure validates cfg and applies it: a larger MaxConcurrent admits
// waiting calls at once; a smaller one lets the calls in flight finish.
func (b *Bulkhead) Reconfigure(cfg Config) error {
	if err := spec.Validate(cfg); err != nil {
		return newError(b.name, err)
	}
	b.cfg.Store(&cfg)
	b.dispatch()
	return nil
}

// ConfigKey identifies the bulkhead in a [grelconfig.Registry].
func (b *Bulkhead) ConfigKey() grelconfig.Key { return grelconfig.Key{Kind: Kind, Instance: b.name} }

// Reload resolves the config again from reg's source and applies it.
func (b *Bulkhead) Reload(reg *grelconfig.Registry) error {
	if b.binding == nil {
		return nil
	}
	return b.binding.Reload(reg)
}

// Execute runs fn when a slot is free, waiting in the queue if the config
// allows. It returns a [*FullError] (errors.Is [ErrBulkheadFull]) or the
// context's error without running fn, or fn's error as is.
func (b *Bulkhead) Execute(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	return fn(ctx)
}

// ExecuteValue is [Bulkhead.Execute] for a function that returns a value.
func ExecuteValue[T any](ctx context.Context, b *Bulkhead, fn func(ctx context.Context) (T, error)) (T, error) {
	if err := b.acquire(ctx); err != nil {
		var zero T
		return zero, err
	}
	defer b.release()
	return fn(ctx)
}

// Acquire takes a slot for code that cannot be wrapped; release gives it
// back (later calls of release do nothing).
func (b *Bulkhead) Acquire(ctx context.Context) (release func(), err error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			b.release()
		}
	}, nil
}

func (b *Bulkhead) try(limit int64) bool {
	for {
		n := b.inflight.Load()
		if n >= limit {
			return false
		}
		if b.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (b *Bulkhead) acquire(ctx context.Context) error {
	cfg := b.cfg.Load()
	if b.try(int64(cfg.MaxConcurrent)) {
		return nil
	}
	return b.wait(ctx, cfg)
}

func (b *Bulkhead) wait(ctx context.Context, cfg *Config) error {
	b.mu.Lock()
	if b.try(int64(cfg.MaxConcurrent)) {
		b.mu.Unlock()
		return nil
	}
	if int(b.nwait.Load()) >= cfg.MaxWaiting {
		b.mu.Unlock()
		b.tel.rejectedFull(ctx)
		return &FullError{Name: b.name}
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return err
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	e := b.waiters.PushBack(w)
	b.nwait.Add(1)
	// A release between the first try and the queueing would see no
	// waiter: try once more now that this call is queued.
	if b.try(int64(cfg.MaxConcurrent)) {
		b.waiters.Remove(e)
		b.nwait.Add(-1)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()

	begin := time.Now()
	var expired <-chan time.Time
	if cfg.MaxWait > 0 {
		t := time.NewTimer(cfg.MaxWait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	out := waitCanceled
	select {
	case <-w.ready:
		b.tel.dequeued(ctx, waitAdmitted, time.Since(begin))
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = &FullError{Name: b.name, Waited: time.Since(begin)}
		out = waitRejected
	}
	b.tel.dequeued(ctx, out, time.Since(begin))
	b.mu.Lock()
	handed := w.removed
	if !handed {
		b.waiters.Remove(e)
		b.nwait.Add(-1)
	}
	b.mu.Unlock()
	if handed {
		// A slot arrived as the wait ended: give it to the next one.
		b.release()
	}
	return err
}

func (b *Bulkhead) release() {
	b.inflight.Add(-1)
	if b.nwait.Load() > 0 {
		b.dispatch()
	}
}

// dispatch hands free slots to the oldest waiters.
func (b *Bulkhead) dispatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := int64(b.cfg.Load().MaxConcurrent)
	for b.waiters.Len() > 0 && b.try(limit) {
		e := b.waiters.Front()
		w := e.Value.(*waiter)
		b.waiters.Remove(e)
		b.nwait.Add(-1)
		w.removed = true
		w.ready <- struct{}{}
	}
}
