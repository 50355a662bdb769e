package grellock

import (
	"context"
	"errors"
	"sync"
	"time"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap"
)

type holdState uint8

const (
	stateHeld holdState = iota
	stateLost
	stateReleased
)

// holdOwner is the pattern a hold belongs to: it says how long to extend,
// when to renew and what to do with the records renewals return.
type holdOwner interface {
	// leases returns the lease to ask for and how long after the request
	// the hold counts as lost without another renewal.
	leases() (lease, lossAfter time.Duration)
	// renewEvery returns the wait before the next automatic renewal; failed
	// says the last one failed.
	renewEvery(failed bool) time.Duration
	observe(rec Record)
}

// Hold is one acquisition of a lock name. It is safe for concurrent use.
//
// A hold ends when it is released or lost. It is lost when no renewal
// succeeded before its loss deadline ([Hold.Expiry]: t0 + lease - margin,
// t0 taken before the request that acquired or last extended it went out),
// or when the store says its token no longer holds the name. The deadline is
// watched locally, so loss is signalled on time even if the store hangs.
type Hold struct {
	c     *core
	owner holdOwner
	live  *liveSet
	token string
	fence uint64

	mu       sync.Mutex
	lease    time.Duration
	deadline time.Time
	state    holdState
	released bool  // Release was called (the state may be lost)
	cause    error // *LostError once lost
	// The hold's own context, made on first use; it is the hold's to
	// cancel, not a caller's context kept around.
	ctx         context.Context
	cancel      context.CancelCauseFunc
	timer       *time.Timer
	watched     bool // someone waits on the hold: the loss timer runs
	binds       map[*binding]struct{}
	renewCancel context.CancelFunc
	renewDone   chan struct{}
	// Extensions are serialised so that the store sees them in the order
	// they start and the last one to succeed sets the deadline. extendWait
	// is made only when a second extension has to wait.
	extending  bool
	extendWait chan struct{}
}

// Name returns the lock name.
func (h *Hold) Name() string { return h.c.name }

// Token returns the hold's owner token.
func (h *Hold) Token() string { return h.token }

// Fence returns the fencing token the store minted for this acquisition. It
// is greater than the fence of every earlier acquisition of the name: a
// resource that remembers the highest fence it has seen can refuse writes
// from a holder that lost the lock without knowing it.
func (h *Hold) Fence() uint64 { return h.fence }

// Holder returns the worker identity the hold was taken with.
func (h *Hold) Holder() string { return h.c.identity }

// Expiry returns the loss deadline: the hold counts as lost from then on
// unless it is renewed before.
func (h *Hold) Expiry() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deadline
}

// Err returns nil while the hold is valid, a [*LostError] once it is lost and
// [ErrReleased] once it was released.
func (h *Hold) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkLocked(time.Now())
	return h.endCauseLocked()
}

// Held reports whether the hold is valid.
func (h *Hold) Held() bool { return h.Err() == nil }

func (h *Hold) endCauseLocked() error {
	switch h.state {
	case stateLost:
		return h.cause
	case stateReleased:
		return ErrReleased
	}
	return nil
}

// checkLocked marks the hold lost when its deadline has passed.
func (h *Hold) checkLocked(now time.Time) {
	if h.state == stateHeld && !now.Before(h.deadline) {
		h.loseLocked(nil)
	}
}

func (h *Hold) loseLocked(cause error) {
	if h.state != stateHeld {
		return
	}
	h.state = stateLost
	h.cause = &LostError{Name: h.c.name, Fence: h.fence, Cause: cause}
	h.stopLocked(h.cause)
	h.c.tel.lost()
	h.c.log.Info("lock lost", zap.String(grellog.FieldHolder, h.c.identity), zap.Uint64(grellog.FieldFence, h.fence), zap.Error(h.cause))
	if h.live != nil {
		h.live.remove(h)
	}
}

func (h *Hold) stopLocked(cause error) {
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.cancel != nil {
		h.cancel(cause)
	}
	for b := range h.binds {
		b.cancel(cause)
	}
	h.binds = nil
	if h.renewCancel != nil {
		h.renewCancel()
	}
}

// armLocked starts or moves the loss timer, once someone watches the hold.
func (h *Hold) armLocked() {
	if !h.watched || h.state != stateHeld {
		return
	}
	d := time.Until(h.deadline)
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.expire)
		return
	}
	h.timer.Reset(d)
}

func (h *Hold) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkLocked(time.Now())
	h.armLocked() // the deadline moved since the timer was set
}

// Context returns a context that is cancelled when the hold is released or
// lost; context.Cause says which ([ErrReleased] or a [*LostError]). It
// carries the hold: acquiring the same lock with it (or a context derived
// from it) returns [ErrReentrant]. It has no other values; [Hold.Bind] derives
// one from a caller's context instead.
func (h *Hold) Context() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx == nil {
		base := context.WithValue(context.Background(), heldKey{}, &heldNode{h: h})
		h.ctx, h.cancel = context.WithCancelCause(base)
		h.watched = true
		h.checkLocked(time.Now())
		if err := h.endCauseLocked(); err != nil {
			h.cancel(err)
		} else {
			h.armLocked()
		}
	}
	return h.ctx
}

// Done returns a channel closed when the hold is released or lost.
func (h *Hold) Done() <-chan struct{} { return h.Context().Done() }

// Bind returns a context derived from parent (its values, deadline and
// cancellation) that is also cancelled when the hold ends, with the same
// cause, and that carries the hold like [Hold.Context]. Call cancel when done
// with it.
func (h *Hold) Bind(parent context.Context) (ctx context.Context, cancel context.CancelFunc) {
	node := &heldNode{h: h, next: heldFrom(parent)}
	cctx, ccancel := context.WithCancelCause(context.WithValue(parent, heldKey{}, node))
	b := &binding{cancel: ccancel}
	h.mu.Lock()
	h.checkLocked(time.Now())
	if err := h.endCauseLocked(); err != nil {
		ccancel(err)
	} else {
		if h.binds == nil {
			h.binds = make(map[*binding]struct{})
		}
		h.binds[b] = struct{}{}
		h.watched = true
		h.armLocked()
	}
	h.mu.Unlock()
	return cctx, func() {
		h.mu.Lock()
		delete(h.binds, b)
		h.mu.Unlock()
		ccancel(context.Canceled)
	}
}

type binding struct{ cancel context.CancelCauseFunc }

// Extend renews the lease for the owner's current lease duration, from now.
// On success the loss deadline becomes t0 + lease - margin for this
// request, earlier than before when the lease was shortened. Extensions of
// one hold run one at a time: a second waits for the first (or for its
// ctx). A hold that was lost or released gets an error matching
// [ErrNotHeld] (a [*LostError] when lost); the store refusing the token
// loses the hold. A transient store error leaves the hold valid until its
// deadline, moved earlier if this request's would be earlier (the store may
// have applied it).
func (h *Hold) Extend(ctx context.Context) error {
	lease, lossAfter := h.owner.leases()
	_, err := h.extendFor(ctx, lease, lossAfter)
	return err
}

// extendFor makes one extension. The deadline a successful one sets is its
// own t0 + lossAfter, even when that is earlier than the current one (a
// shorter lease after Reconfigure): the store now keeps the shorter lease.
// Extensions of one hold run one at a time, so the last to succeed is the
// last the store applied. An extension that failed may still have reached
// the store, so it can only move the deadline earlier.
func (h *Hold) extendFor(ctx context.Context, lease, lossAfter time.Duration) (Record, error) {
	h.mu.Lock()
	for {
		h.checkLocked(time.Now())
		if err := h.notHeldLocked(); err != nil {
			h.mu.Unlock()
			return Record{}, err
		}
		if !h.extending {
			break
		}
		if h.extendWait == nil {
			h.extendWait = make(chan struct{})
		}
		wait := h.extendWait
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
		h.mu.Lock()
	}
	h.extending = true
	deadline := h.deadline
	h.mu.Unlock()

	t0 := time.Now()
	sctx, sp := h.c.span(ctx, "extend")
	cctx, cancel := h.c.callCtx(sctx, deadline)
	rec, err := h.c.backend.Extend(cctx, Request{Name: h.c.name, Token: h.token, Holder: h.c.identity, Lease: lease})
	cancel()
	endSpan(sp, rec.Fence, err)
	if h.c.tel != nil {
		switch {
		case errors.Is(err, ErrNotHeld), err == nil && rec.Fence != h.fence:
			h.c.tel.renewFailed(ctx, renewNotHeld)
		case err != nil && ctx.Err() == nil:
			h.c.tel.renewFailed(ctx, renewStoreError)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	h.extending = false
	if h.extendWait != nil {
		close(h.extendWait)
		h.extendWait = nil
	}
	nd := t0.Add(lossAfter)
	if err != nil && !errors.Is(err, ErrNotHeld) && nd.Before(h.deadline) {
		// The store may have applied the shorter lease before failing.
		h.deadline = nd
		h.armLocked()
	}
	h.checkLocked(time.Now())
	if nerr := h.notHeldLocked(); nerr != nil {
		return Record{}, nerr
	}
	if err != nil {
		if errors.Is(err, ErrNotHeld) {
			h.loseLocked(err)
			return Record{}, h.cause
		}
		if ctx.Err() != nil {
			return Record{}, ctx.Err()
		}
		h.c.log.Warn("lock not renewed", zap.String(grellog.FieldOp, "extend"), zap.Uint64(grellog.FieldFence, h.fence), zap.Error(err))
		return Record{}, err
	}
	if rec.Fence != h.fence {
		h.loseLocked(ErrNotHeld)
		return Record{}, h.cause
	}
	h.deadline = nd
	h.lease = lease
	h.armLocked()
	if ce := h.c.log.Check(zap.DebugLevel, "extended"); ce != nil {
		ce.Write(zap.String(grellog.FieldOp, "extend"), zap.Uint64(grellog.FieldFence, h.fence))
	}
	return rec, nil
}

func (h *Hold) notHeldLocked() error {
	switch {
	case h.state == stateLost:
		return h.cause
	case h.state == stateReleased || h.released:
		return ErrNotHeld
	}
	return nil
}

// Release frees the lock. It returns an error matching [ErrNotHeld] when the
// hold was already released or when the store no longer has this token
// (expired, taken over). A hold lost locally whose lease the store still
// keeps is freed and Release returns nil. The store call is bounded by ctx
// and by one lease (after which the store frees the lock anyway).
func (h *Hold) Release(ctx context.Context) error {
	done, err := h.end()
	if err != nil {
		return err
	}
	if done != nil {
		<-done
	}
	h.mu.Lock()
	bound := time.Now().Add(h.lease) // after a lease the store frees it anyway
	h.mu.Unlock()
	sctx, sp := h.c.span(ctx, "release")
	cctx, cancel := h.c.callCtx(sctx, bound)
	err = h.c.backend.Release(cctx, h.c.name, h.token)
	cancel()
	endSpan(sp, h.fence, err)
	if err != nil && !errors.Is(err, ErrNotHeld) {
		h.c.log.Warn("lock not released", zap.String(grellog.FieldOp, "release"), zap.Uint64(grellog.FieldFence, h.fence), zap.Error(err))
	} else {
		if ce := h.c.log.Check(zap.DebugLevel, "released"); ce != nil {
			ce.Write(zap.String(grellog.FieldOp, "release"), zap.Uint64(grellog.FieldFence, h.fence), zap.Error(err))
		}
	}
	return err
}

// end marks the hold released locally and stops its renewal; it returns the
// renewal goroutine's done channel to wait on.
func (h *Hold) end() (<-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return nil, ErrNotHeld
	}
	h.released = true
	if h.state == stateHeld {
		h.state = stateReleased
		h.stopLocked(ErrReleased)
	}
	if h.live != nil {
		h.live.remove(h)
	}
	return h.renewDone, nil
}

// keepAlive renews the hold in an owned goroutine until it ends. Release
// stops the goroutine and waits for it.
func (h *Hold) keepAlive() {
	hctx := h.Context()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateHeld || h.renewDone != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.renewCancel, h.renewDone = cancel, done
	go func() {
		defer close(done)
		defer cancel()
		failed := false
		for {
			t := time.NewTimer(h.owner.renewEvery(failed))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-hctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			lease, lossAfter := h.owner.leases()
			rec, err := h.extendFor(ctx, lease, lossAfter)
			switch {
			case err == nil:
				failed = false
				h.owner.observe(rec)
			case errors.Is(err, ErrNotHeld), ctx.Err() != nil:
				return
			default:
				failed = true
			}
		}
	}()
}

// liveSet is the holds of one Lock or TaskLock still held, released on
// Close.
type liveSet struct {
	mu     sync.Mutex
	m      map[*Hold]struct{}
	closed bool
}

func (s *liveSet) add(h *Hold) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[*Hold]struct{})
	}
	s.m[h] = struct{}{}
	return true
}

func (s *liveSet) remove(h *Hold) {
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

// held counts the holds of s valid at now. It changes no hold: one past its
// deadline is not counted, and not marked lost either.
func (s *liveSet) held(now time.Time) int64 {
	s.mu.Lock()
	hs := make([]*Hold, 0, len(s.m))
	for h := range s.m {
		hs = append(hs, h)
	}
	s.mu.Unlock()
	n := int64(0)
	for _, h := range hs { // h.mu is never taken under s.mu
		if h.validAt(now) {
			n++
		}
	}
	return n
}

// validAt reports whether the hold is valid at now, without marking it
// lost when its deadline has passed.
func (h *Hold) validAt(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state == stateHeld && now.Before(h.deadline)
}

func (s *liveSet) close() []*Hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	out := make([]*Hold, 0, len(s.m))
	for h := range s.m {
		out = append(out, h)
	}
	return out
}

// stopRenew stops the renewal goroutine, if any, and waits for it.
func (h *Hold) stopRenew() {
	h.mu.Lock()
	cancel, done := h.renewCancel, h.renewDone
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
