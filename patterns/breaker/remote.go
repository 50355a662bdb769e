package grelbreaker

import (
	"context"
	"time"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// A breaker on a shared store keeps a local copy of the store's state (the
// view): a call is admitted from it, with no round trip, while it is
// younger than Staleness and says closed (or open, not yet due). Otherwise
// the call asks the store (Allow, one round trip). Every outcome that can
// change the shared state is recorded (Record, one round trip), and the
// answer refreshes the view. The store's lock, if any, lives inside one
// script: nothing is held while the user's function runs.
//
// When the store fails (an error or StoreTimeout, not the caller's own
// cancellation) the breaker is degraded: it decides on its local state, a
// state machine fed with this process's own outcomes all along and seeded
// with the last shared state it knew when that was not closed. It logs a
// warning, counts grel.breaker.store_errors, reports Degraded() and tells
// the WithOnDegraded listeners. At most once per probe interval (Staleness,
// at least one second) a call tries the store again; the first success puts
// the breaker back on the shared state.

type view struct {
	snap  Snapshot
	at    int64 // b.now() when it was received
	until int64 // StateOpen: b.now() when the store admits trials
}

func (b *Breaker) now() int64 { return int64(time.Since(b.epoch)) }

func probeInterval(cfg *Config) int64 { return int64(max(cfg.Staleness, time.Second)) }

func (b *Breaker) admitRemote(ctx context.Context, cfg *Config) (ticket, error) {
	if b.degraded.Load() && !b.probeDue(cfg) {
		return b.admitCore(ctx, cfg, b.local)
	}
	now := b.now()
	if v := b.view.Load(); v != nil && !b.degraded.Load() && now-v.at < int64(cfg.Staleness) {
		switch v.snap.State {
		case StateClosed:
			return ticket{remote: true, gen: v.snap.Generation, state: StateClosed}, nil
		case StateForcedOpen:
			b.local.stripe().rejected.Add(1)
			return ticket{}, b.refuse(ctx, StateForcedOpen, 0)
		case StateOpen:
			if now < v.until {
				b.local.stripe().rejected.Add(1)
				return ticket{}, b.refuse(ctx, StateOpen, time.Duration(v.until-now))
			}
		}
	}
	a, err := onStore(ctx, b, cfg, "allow", func(ctx context.Context) (Admission, error) {
		return b.remote.Allow(ctx, b.key, cfg)
	})
	if err != nil {
		if ctx.Err() != nil {
			return ticket{}, ctx.Err()
		}
		b.storeFailed(cfg, "allow", err)
		return b.admitCore(ctx, cfg, b.local)
	}
	b.storeOK(ctx, cfg, a.Snapshot)
	b.apply(ctx, a.Snapshot, nil, false)
	if !a.Admitted {
		b.local.stripe().rejected.Add(1)
		return ticket{}, b.refuse(ctx, a.State, a.OpenRemaining)
	}
	return ticket{remote: true, gen: a.Generation, state: a.State}, nil
}

func (b *Breaker) probeDue(cfg *Config) bool {
	now := b.now()
	next := b.nextProbe.Load()
	return now >= next && b.nextProbe.CompareAndSwap(next, now+probeInterval(cfg))
}

func (b *Breaker) recordRemote(ctx context.Context, cfg *Config, t ticket, o Outcome, slow bool, cause error) {
	// The local copy counts this process's outcomes all along, silently, so
	// that it is warm when it has to decide.
	if m := b.local.record(cfg, genOf(b.local.word.Load()), o, slow, b); m.ok {
		b.moved(ctx, b.local, m, cause) // announced only while degraded
	}
	if b.degraded.Load() {
		// The store failed since this call was admitted: the local state
		// decides, and the store is not asked again before the next probe.
		return
	}
	if o == OutcomeIgnored && t.state == StateClosed {
		return // changes nothing in the store
	}
	snap, err := onStore(context.WithoutCancel(ctx), b, cfg, "record", func(ctx context.Context) (Snapshot, error) {
		return b.remote.Record(ctx, b.key, cfg, Record{Generation: t.gen, Outcome: o, Slow: slow})
	})
	if err != nil {
		b.storeFailed(cfg, "record", err)
		return
	}
	b.storeOK(ctx, cfg, snap)
	b.apply(ctx, snap, cause, false)
}

func (b *Breaker) setRemote(ctx context.Context, cfg *Config, to State) error {
	if err := validState(to); err != nil {
		return err
	}
	lm := b.local.set(cfg, to, b)
	snap, err := onStore(ctx, b, cfg, "set", func(ctx context.Context) (Snapshot, error) {
		return b.remote.Set(ctx, b.key, cfg, to)
	})
	if err != nil {
		if ctx.Err() != nil {
			b.skip(lm)
			return ctx.Err()
		}
		b.storeFailed(cfg, "set", err)
		b.settle(ctx, b.local, lm, nil, true) // degraded now: announced
		return &StoreError{Op: "set", Err: err}
	}
	b.skip(lm)
	b.storeOK(ctx, cfg, snap)
	b.apply(ctx, snap, nil, true)
	return nil
}

func (b *Breaker) startRemote(ctx context.Context, cfg *Config) Snapshot {
	snap, err := b.load(ctx, cfg)
	if err != nil {
		b.storeFailed(cfg, "load", err)
		return b.local.snapshot(cfg)
	}
	q := &b.notes
	q.mu.Lock()
	if snap.Generation > b.seen.Load() {
		b.seen.Store(snap.Generation) // announced as the initial state
	}
	q.mu.Unlock()
	b.storeOK(ctx, cfg, snap)
	b.apply(ctx, snap, nil, false)
	return snap
}

// Refresh reads the shared state now (one round trip) instead of waiting
// for the local copy to grow stale. On Memory it does nothing.
func (b *Breaker) Refresh(ctx context.Context) error {
	if b.core != nil {
		return nil
	}
	cfg := b.cfg.Load()
	snap, err := b.load(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.storeFailed(cfg, "load", err)
		return &StoreError{Op: "load", Err: err}
	}
	b.storeOK(ctx, cfg, snap)
	b.apply(ctx, snap, nil, false)
	return nil
}

// apply makes snap the view, unless a newer one is there, and announces the
// transition it reports when it is new to this breaker.
func (b *Breaker) apply(ctx context.Context, snap Snapshot, cause error, manual bool) {
	now := b.now()
	nv := &view{snap: snap, at: now}
	if snap.State == StateOpen {
		nv.until = now + int64(snap.OpenRemaining)
	}
	for {
		old := b.view.Load()
		if old != nil && old.snap.Generation > snap.Generation {
			break
		}
		if b.view.CompareAndSwap(old, nv) {
			break
		}
	}
	// seen moves and the slot is taken under the notifier's lock, so that
	// events follow the store's generations.
	q := &b.notes
	q.mu.Lock()
	if snap.Generation <= b.seen.Load() {
		q.mu.Unlock()
		return
	}
	b.seen.Store(snap.Generation)
	if snap.Last.From == snap.Last.To && !manual {
		q.mu.Unlock()
		return // a renewal of the same state
	}
	seq := q.reserveLocked()
	q.mu.Unlock()
	if !snap.Changed {
		cause, manual = nil, false
	}
	b.announce(ctx, seq, Transition{From: snap.Last.From, To: snap.State, Counts: snap.Last.Counts}, cause, manual, false)
}

func (b *Breaker) storeFailed(cfg *Config, op string, err error) {
	b.tel.storeError(op)
	if !b.degraded.CompareAndSwap(false, true) {
		return
	}
	b.nextProbe.Store(b.now() + probeInterval(cfg))
	// Seed the local copy with the shared state it replaces, when that is
	// not closed: a shared open breaker stays open here.
	if v := b.view.Load(); v != nil {
		switch v.snap.State {
		case StateOpen:
			b.local.seed(cfg, StateOpen, time.Duration(max(0, v.until-b.now())))
		case StateForcedOpen, StateHalfOpen:
			b.local.seed(cfg, v.snap.State, 0)
		}
	}
	b.log.Warn("breaker store unavailable: deciding on local state", zap.String(grellog.FieldOp, op),
		zap.String(grellog.FieldState, stateOf(b.local.word.Load()).String()), zap.Error(err))
	b.notify(notice{deg: &DegradedEvent{Name: b.name, Key: b.groupKey, Degraded: true, Err: err}})
}

func (b *Breaker) storeOK(ctx context.Context, cfg *Config, snap Snapshot) {
	if !b.degraded.Load() || !b.degraded.CompareAndSwap(true, false) {
		return
	}
	localState := stateOf(b.local.word.Load())
	b.log.Info("breaker store available again: deciding on shared state", zap.String(grellog.FieldState, snap.State.String()))
	b.notify(notice{deg: &DegradedEvent{Name: b.name, Key: b.groupKey, Degraded: false}})
	if localState != snap.State {
		b.emit(ctx, Transition{From: localState, To: snap.State, Counts: snap.Counts}, nil, false, false)
	}
}

// onStore runs one operation on the shared store, bounded by StoreTimeout
// and traced as the span grel.breaker.<name>.
func onStore[T any](ctx context.Context, b *Breaker, cfg *Config, name string, op func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.StoreTimeout)
	defer cancel()
	ctx, span := b.span(ctx, name)
	v, err := op(ctx)
	endSpan(span, err)
	return v, err
}

// load reads the key's shared state (one round trip).
func (b *Breaker) load(ctx context.Context, cfg *Config) (Snapshot, error) {
	return onStore(ctx, b, cfg, "load", func(ctx context.Context) (Snapshot, error) {
		return b.remote.Load(ctx, b.key, cfg)
	})
}

func (b *Breaker) span(ctx context.Context, op string) (context.Context, trace.Span) {
	if b.tracer == nil {
		return ctx, nil
	}
	return b.tracer.Start(ctx, "grel.breaker."+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("grel.pattern", "breaker"), attribute.String("grel.name", b.name),
		attribute.String("grel.backend", b.backendDesc), attribute.String("grel.key", b.key)))
}

func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "store operation failed")
	}
	span.End()
}
