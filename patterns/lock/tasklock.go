package grellock

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.uber.org/zap"
)

// TaskLock runs a task at most once at a time across replicas, and at most
// once per MinHold: a run holds the lock from its start (taken before the
// acquisition request) until the later of the end of the body and start +
// MinHold. MinHold counts from the start of the run, not from the end of the
// body, so that a fast task cannot run twice in one MinHold and the next
// run's slot does not drift with the body's duration. It never waits for the
// lock: a replica that does not get it skips the run.
type TaskLock struct {
	c    *core
	cfg  atomic.Pointer[TaskConfig]
	live liveSet
	bind grelconfig.Reloadable
}

var _ grelconfig.Reloadable = (*TaskLock)(nil)

// NewTaskLock returns the task lock name on backend. Its config is resolved
// from opts, then GREL_TASKLOCK_{NAME}_*, then GREL_TASKLOCK_*, then the
// defaults.
func NewTaskLock(name string, backend Backend, opts ...Option) (*TaskLock, error) {
	o, err := collect(kindTask, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := taskSpec.Resolve(o.registry, name, o.task.list...)
	if err != nil {
		return nil, err
	}
	return newTaskLock(name, backend, cfg, o)
}

// NewTaskLockFromConfig returns the task lock with cfg as-is (config
// options in opts applied on top); it reads no environment.
func NewTaskLockFromConfig(name string, backend Backend, cfg TaskConfig, opts ...Option) (*TaskLock, error) {
	o, err := collect(kindTask, opts)
	if err != nil {
		return nil, err
	}
	o.task.applyTo(&cfg)
	if err := taskSpec.Validate(cfg); err != nil {
		return nil, err
	}
	return newTaskLock(name, backend, cfg, o)
}

func newTaskLock(name string, backend Backend, cfg TaskConfig, o *options) (*TaskLock, error) {
	c, err := newCore("tasklock", name, backend, cfg.Worker, o)
	if err != nil {
		return nil, err
	}
	cfg.Worker = c.identity
	t := &TaskLock{c: c}
	t.cfg.Store(&cfg)
	t.bind = taskSpec.Bind(name, o.task.list, t.Reconfigure)
	return t, nil
}

// Name returns the task lock's name.
func (t *TaskLock) Name() string { return t.c.name }

// Worker returns the worker identity.
func (t *TaskLock) Worker() string { return t.c.identity }

// Config returns the running config.
func (t *TaskLock) Config() TaskConfig { return *t.cfg.Load() }

// Reconfigure validates cfg and makes it the running config from the next
// run on. The worker identity cannot change; an empty Worker keeps it.
func (t *TaskLock) Reconfigure(cfg TaskConfig) error {
	if err := taskSpec.Validate(cfg); err != nil {
		return err
	}
	if cfg.Worker != "" && cfg.Worker != t.c.identity {
		return errIdentity
	}
	cfg.Worker = t.c.identity
	t.cfg.Store(&cfg)
	return nil
}

// ConfigKey implements [grelconfig.Reloadable].
func (t *TaskLock) ConfigKey() grelconfig.Key { return t.bind.ConfigKey() }

// Reload implements [grelconfig.Reloadable].
func (t *TaskLock) Reload(reg *grelconfig.Registry) error { return t.bind.Reload(reg) }

func (t *TaskLock) leases() (time.Duration, time.Duration) {
	lease := t.cfg.Load().LeaseDuration
	return lease, lease - SafetyMargin(lease)
}

func (t *TaskLock) renewEvery(failed bool) time.Duration {
	lease := t.cfg.Load().LeaseDuration
	if failed {
		return lease / 10
	}
	return lease / 3
}

func (*TaskLock) observe(Record) {}

// Run runs fn if this replica gets the lock, and returns fn's error. When
// another replica holds it, Run returns a [*NotAcquiredError] (matching
// [ErrNotAcquired]) without running fn.
//
// fn's context is derived from ctx, carries the hold (see
// [HoldFromContext]) and is cancelled when the lock is lost; Run then
// returns a [*LostError] joined with fn's error. With Refresh the lease is
// renewed while fn runs. After fn, the lock is released if MinHold has passed
// since the start of the run, and otherwise left to expire at start+MinHold
// (one extension that sets the lease to what is left), so a fast task cannot
// run again on a replica that starts a moment later.
func (t *TaskLock) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		t.c.tel.ran(ctx, runError)
		return err
	}
	if t.c.reentrant(ctx) {
		t.c.tel.ran(ctx, runError)
		return ErrReentrant
	}
	start := time.Now()
	h, _, err := t.c.attempt(ctx, t.c.newToken(), t, nil, &t.live)
	if err != nil {
		if errors.Is(err, ErrNotAcquired) {
			t.c.tel.ran(ctx, runSkipped)
		} else {
			t.c.tel.ran(ctx, runError)
		}
		return err
	}
	if t.cfg.Load().Refresh {
		h.keepAlive()
	}
	bctx, cancel := h.Bind(ctx)
	ferr := fn(bctx)
	cancel()
	h.stopRenew()

	after := context.WithoutCancel(ctx)
	if lost := h.Err(); lost != nil {
		_ = h.Release(after)
		t.c.tel.ran(ctx, runLost)
		return errors.Join(lost, ferr)
	}
	if ferr != nil {
		t.c.tel.ran(ctx, runFailed)
	} else {
		t.c.tel.ran(ctx, runRan)
	}
	left := time.Until(start.Add(t.cfg.Load().MinHold))
	if left <= 0 {
		if err := h.Release(after); err != nil && !errors.Is(err, ErrNotHeld) {
			t.c.log.Warn("task lock not released", zapOp("release"), zapErr(err))
		}
		return ferr
	}
	if _, err := h.extendFor(after, left, left); err != nil {
		t.c.log.Warn("task lock not set to its minimum hold", zapOp("extend"), zapErr(err), zap.Duration("min_hold_left", left))
	}
	_, _ = h.end() // held in the store until start+MinHold, done here
	return ferr
}

// Close refuses new runs and releases the lock of a run in progress.
func (t *TaskLock) Close(ctx context.Context) error {
	return closeHolds(ctx, &t.live)
}
