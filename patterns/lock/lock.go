package grellock

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Lock is a distributed mutual-exclusion lock on one name. It is safe for
// concurrent use: every acquisition is its own [Hold] with its own token, so
// two goroutines of one process exclude each other like two processes do.
type Lock struct {
	c    *core
	cfg  atomic.Pointer[Config]
	live liveSet
	bind grelconfig.Reloadable
}

var _ grelconfig.Reloadable = (*Lock)(nil)

// New returns the lock name on backend. Its config is resolved from opts,
// then GREL_LOCK_{NAME}_*, then GREL_LOCK_*, then the defaults.
func New(name string, backend Backend, opts ...Option) (*Lock, error) {
	o, err := collect(kindLock, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := lockSpec.Resolve(o.registry, name, o.lock.list...)
	if err != nil {
		return nil, err
	}
	return newLock(name, backend, cfg, o)
}

// NewFromConfig returns the lock name on backend with cfg as-is (config
// options in opts are applied on top); it reads no environment.
func NewFromConfig(name string, backend Backend, cfg Config, opts ...Option) (*Lock, error) {
	o, err := collect(kindLock, opts)
	if err != nil {
		return nil, err
	}
	o.lock.applyTo(&cfg)
	if err := lockSpec.Validate(cfg); err != nil {
		return nil, err
	}
	return newLock(name, backend, cfg, o)
}

func newLock(name string, backend Backend, cfg Config, o *options) (*Lock, error) {
	c, err := newCore("lock", name, backend, cfg.Worker, o)
	if err != nil {
		return nil, err
	}
	cfg.Worker = c.identity
	l := &Lock{c: c}
	l.cfg.Store(&cfg)
	l.bind = lockSpec.Bind(name, o.lock.list, l.Reconfigure)
	if c.tel != nil {
		if err := c.tel.observeHeld(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Name returns the lock name.
func (l *Lock) Name() string { return l.c.name }

// Worker returns the worker identity holds are taken with.
func (l *Lock) Worker() string { return l.c.identity }

// Config returns the running config.
func (l *Lock) Config() Config { return *l.cfg.Load() }

// Reconfigure validates cfg and makes it the running config from the next
// operation on. The worker identity cannot change; an empty Worker keeps it.
func (l *Lock) Reconfigure(cfg Config) error {
	if err := lockSpec.Validate(cfg); err != nil {
		return err
	}
	if cfg.Worker != "" && cfg.Worker != l.c.identity {
		return errIdentity
	}
	cfg.Worker = l.c.identity
	l.cfg.Store(&cfg)
	return nil
}

var errIdentity = errors.New("grellock: Worker cannot change at run time")

// ConfigKey implements [grelconfig.Reloadable].
func (l *Lock) ConfigKey() grelconfig.Key { return l.bind.ConfigKey() }

// Reload implements [grelconfig.Reloadable].
func (l *Lock) Reload(reg *grelconfig.Registry) error { return l.bind.Reload(reg) }

func (l *Lock) leases() (time.Duration, time.Duration) {
	lease := l.cfg.Load().LeaseDuration
	return lease, lease - SafetyMargin(lease)
}

func (l *Lock) renewEvery(failed bool) time.Duration {
	lease := l.cfg.Load().LeaseDuration
	if failed {
		return lease / 10
	}
	return lease / 3
}

func (*Lock) observe(Record) {}

// TryAcquire makes one attempt. When another holder has the lock it returns
// a [*NotAcquiredError] (matching [ErrNotAcquired]) at once.
func (l *Lock) TryAcquire(ctx context.Context) (*Hold, error) {
	begin := l.c.tel.begin()
	h, err := l.tryAcquire(ctx)
	l.c.tel.acquired(ctx, begin, err)
	return h, err
}

func (l *Lock) tryAcquire(ctx context.Context) (*Hold, error) {
	if err := l.precheck(ctx); err != nil {
		return nil, err
	}
	return l.try(ctx, l.c.newToken())
}

func (l *Lock) precheck(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.c.reentrant(ctx) {
		return ErrReentrant
	}
	return nil
}

func (l *Lock) try(ctx context.Context, token string) (*Hold, error) {
	h, _, err := l.c.attempt(ctx, token, l, nil, &l.live)
	if err != nil {
		return nil, err
	}
	if l.cfg.Load().AutoRenew {
		h.keepAlive()
	}
	return h, nil
}

// Acquire waits until the lock is acquired or ctx is done, trying every
// RetryInterval (shortened by Jitter). It returns ctx's error as-is when ctx
// ends first, and [ErrReentrant] at once when ctx already holds the lock.
// Store errors while waiting are retried.
func (l *Lock) Acquire(ctx context.Context) (*Hold, error) {
	begin := l.c.tel.begin()
	h, err := l.wait(ctx)
	if err != nil {
		var na *NotAcquiredError
		if errors.As(err, &na) && ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	l.c.tel.acquired(ctx, begin, err)
	return h, err
}

// AcquireWithin waits at most d for the lock. When d passes first it returns
// a [*NotAcquiredError] (matching [ErrNotAcquired]) with the last holder seen
// and the last store error; when ctx ends first, ctx's error.
func (l *Lock) AcquireWithin(ctx context.Context, d time.Duration) (*Hold, error) {
	begin := l.c.tel.begin()
	wctx, cancel := context.WithTimeout(ctx, d)
	h, err := l.wait(wctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	l.c.tel.acquired(ctx, begin, err)
	return h, err
}

// wait loops until acquired; the token is kept across attempts, so an
// attempt whose answer was lost but that the store recorded is completed by
// the next one (same token: an extension, the same fence).
func (l *Lock) wait(ctx context.Context) (*Hold, error) {
	if err := l.precheck(ctx); err != nil {
		return nil, err
	}
	token := l.c.newToken()
	var last NotAcquiredError
	last.Name = l.c.name
	for {
		h, err := l.try(ctx, token)
		if err == nil {
			return h, nil
		}
		var na *NotAcquiredError
		switch {
		case errors.As(err, &na):
			last.Holder = na.Holder
			if na.Err != nil {
				last.Err = na.Err
			}
		case errors.Is(err, ErrClosed):
			return nil, err
		case ctx.Err() != nil:
			return nil, &last
		default:
			last.Err = err
			l.c.log.Warn("lock store error while waiting", zapOp("acquire"), zapErr(err))
		}
		cfg := l.cfg.Load()
		if !sleep(ctx, jittered(cfg.RetryInterval, cfg.Jitter)) {
			out := last
			return nil, &out
		}
	}
}

// Do acquires the lock (waiting like [Lock.Acquire]), runs fn with a context
// derived from ctx that is cancelled if the hold is lost, and releases the
// lock. It returns fn's error, or the acquire error.
func (l *Lock) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	h, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	fctx, cancel := h.Bind(ctx)
	ferr := fn(fctx)
	cancel()
	rerr := h.Release(context.WithoutCancel(ctx))
	if ferr != nil {
		return ferr
	}
	if lost := h.Err(); lost != nil && !errors.Is(lost, ErrReleased) {
		return lost
	}
	if rerr != nil && !errors.Is(rerr, ErrNotHeld) {
		return rerr
	}
	return nil
}

// Record returns the store's record of the lock.
func (l *Lock) Record(ctx context.Context) (Record, error) {
	return l.c.backend.Get(ctx, l.c.name)
}

// Close refuses new acquisitions and releases every hold still held. Module
// calls it when the app stops.
func (l *Lock) Close(ctx context.Context) error {
	return errors.Join(closeHolds(ctx, &l.live), l.c.tel.stop())
}

func closeHolds(ctx context.Context, live *liveSet) error {
	var errs []error
	for _, h := range live.close() {
		if err := h.Release(ctx); err != nil && !errors.Is(err, ErrNotHeld) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
