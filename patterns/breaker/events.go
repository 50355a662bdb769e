package grelbreaker

import (
	"context"
	"sync"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Event is a state change of a breaker, given to [WithOnStateChange]
// listeners.
type Event struct {
	// Name is the breaker's name; Key its key in a Group ("" otherwise).
	Name, Key string
	// From and To are the states before and after. For the announcement at
	// Start, From equals To.
	From, To State
	// Counts are the counts from before the transition.
	Counts Counts
	// Err is the error of the call whose outcome caused the transition, when
	// this process's call did.
	Err error
	// Initial is true for the announcement of the initial state at Start.
	Initial bool
	// Manual is true for Open, Close and ForceOpen.
	Manual bool
	// Local is true when the change is of the local fallback state, while
	// a shared store is unavailable.
	Local bool
}

// DegradedEvent tells that a breaker on a shared store fell back to its
// local state (Degraded true, with the store's error) or is back on the
// store (Degraded false).
type DegradedEvent struct {
	Name, Key string
	Degraded  bool
	Err       error
}

// notice is one queued delivery.
type notice struct {
	ev  Event
	deg *DegradedEvent
}

// slot is one place in the delivery order. A transition takes its slot
// while the lock that orders transitions is held, and fills it after
// releasing that lock; a slot filled with nothing to say is skipped.
type slot struct {
	n     notice
	ready bool
	skip  bool
}

// notifier delivers events to listeners in the order their slots were
// taken, one at a time, never under a lock of the breaker: a listener may
// call the breaker, and an event it causes is delivered after it returns.
// Whoever fills the first slot that is ready delivers; a later slot that is
// ready waits for the earlier ones, and their fillers deliver it.
type notifier struct {
	mu       sync.Mutex
	queue    []slot
	head     uint64 // the sequence number of queue[0]
	draining bool
}

// reserve takes the next slot. It may be called under a core's lock (the
// notifier's lock is never held while a core's is taken).
func (q *notifier) reserve() uint64 {
	q.mu.Lock()
	seq := q.reserveLocked()
	q.mu.Unlock()
	return seq
}

func (q *notifier) reserveLocked() uint64 {
	seq := q.head + uint64(len(q.queue))
	q.queue = append(q.queue, slot{})
	return seq
}

// notify queues n after every slot taken so far and delivers what is ready.
func (b *Breaker) notify(n notice) {
	q := &b.notes
	q.mu.Lock()
	q.queue = append(q.queue, slot{n: n, ready: true})
	b.drainLocked()
}

// fill gives the reserved slot seq its notice (skip: nothing to deliver)
// and delivers what is ready.
func (b *Breaker) fill(seq uint64, n notice, skip bool) {
	q := &b.notes
	q.mu.Lock()
	q.queue[seq-q.head] = slot{n: n, ready: true, skip: skip}
	b.drainLocked()
}

// skip fills the slot transition m took, if any, with nothing to deliver.
func (b *Breaker) skip(m moved) {
	if m.slot {
		b.fill(m.seq, notice{}, true)
	}
}

// drainLocked delivers the ready slots at the head of the queue, unless
// another goroutine is delivering; it releases q.mu.
func (b *Breaker) drainLocked() {
	q := &b.notes
	if q.draining {
		q.mu.Unlock()
		return
	}
	q.draining = true
	defer func() {
		// A panicking listener must not leave the queue stuck.
		if r := recover(); r != nil {
			q.mu.Lock()
			q.draining = false
			q.mu.Unlock()
			panic(r)
		}
	}()
	for len(q.queue) > 0 && q.queue[0].ready {
		next := q.queue[0]
		q.queue[0] = slot{}
		q.queue = q.queue[1:]
		q.head++
		if next.skip {
			continue
		}
		q.mu.Unlock()
		b.deliver(next.n)
		q.mu.Lock()
	}
	if len(q.queue) == 0 {
		q.queue = nil
	}
	q.draining = false
	q.mu.Unlock()
}

func (b *Breaker) deliver(n notice) {
	if n.deg != nil {
		for _, fn := range b.onDegraded {
			fn(*n.deg)
		}
		return
	}
	ev := n.ev
	if ev.Initial {
		b.log.Info("breaker state", zap.String(grellog.FieldState, ev.To.String()))
	} else {
		fields := []zap.Field{zap.String(grellog.FieldState, ev.To.String()), zap.String("from", ev.From.String())}
		if ev.Manual {
			fields = append(fields, zap.Bool("manual", true))
		}
		if ev.Local {
			fields = append(fields, zap.Bool("local", true))
		}
		if ev.Err != nil {
			fields = append(fields, zap.Error(ev.Err))
		}
		b.log.Info("breaker state changed", fields...)
		b.tel.transition(ev.From, ev.To)
	}
	for _, fn := range b.listeners {
		fn(ev)
	}
}

// emit announces a transition of the breaker's own making, after every
// slot taken so far.
func (b *Breaker) emit(ctx context.Context, tr Transition, cause error, manual, local bool) {
	b.spanEvent(ctx, tr)
	b.notify(b.notice(tr, cause, manual, local))
}

// announce fills the slot a transition took with its event.
func (b *Breaker) announce(ctx context.Context, seq uint64, tr Transition, cause error, manual, local bool) {
	b.spanEvent(ctx, tr)
	b.fill(seq, b.notice(tr, cause, manual, local), false)
}

func (b *Breaker) notice(tr Transition, cause error, manual, local bool) notice {
	return notice{ev: Event{Name: b.name, Key: b.groupKey, From: tr.From, To: tr.To, Counts: tr.Counts, Err: cause, Manual: manual, Local: local}}
}

func (b *Breaker) spanEvent(ctx context.Context, tr Transition) {
	if ctx == nil {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("grel.breaker.state_change", trace.WithAttributes(
			attribute.String("grel.name", b.name), attribute.String("grel.breaker.from", tr.From.String()),
			attribute.String("grel.breaker.to", tr.To.String())))
	}
}
