package grellock

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

const tracerName = "github.com/grelmicro/grelmicro-go/patterns/lock"

// SafetyMargin is how much sooner than its lease a hold is considered lost
// locally: 1% of the lease plus 2ms, room for the drift between the local
// clock and the store's over one lease. The loss deadline of a hold is
// t0 + lease - SafetyMargin(lease), t0 taken before the request was sent.
func SafetyMargin(lease time.Duration) time.Duration {
	return lease/100 + 2*time.Millisecond
}

// core is what the three patterns share: the store, the identity and the
// observability of one named instance.
type core struct {
	pattern  string // "lock", "tasklock", "leaderelection"
	name     string
	backend  Backend
	kind     string
	identity string
	sync     bool // the backend never blocks: no per-call deadline needed
	log      *zap.Logger
	tracer   trace.Tracer // nil when tracing is off
	tel      *telemetry   // nil when the meter provider is the no-op one
}

func newCore(pattern, name string, b Backend, worker string, o *options) (*core, error) {
	if name == "" {
		return nil, errors.New("grellock: name must not be empty")
	}
	if _, err := grelconfig.NormalizeName(name); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("grellock: backend must not be nil")
	}
	c := &core{pattern: pattern, name: name, backend: b, kind: kindOf(b), identity: worker}
	if c.identity == "" {
		c.identity = RandomIdentity()
	}
	_, c.sync = b.(*Memory)
	log := o.logger
	if log == nil {
		log = zap.NewNop()
	}
	c.log = log.With(zap.String(grellog.FieldPattern, pattern), zap.String(grellog.FieldName, name), zap.String(grellog.FieldBackend, c.kind))
	if tp := o.tracer; tp != nil {
		if _, off := tp.(noop.TracerProvider); !off {
			c.tracer = tp.Tracer(tracerName)
		}
	}
	tel, err := newTelemetry(o.meter, c)
	if err != nil {
		return nil, err
	}
	c.tel = tel
	return c, nil
}

// RandomIdentity returns a worker identity: the host name and a random
// suffix.
func RandomIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.FormatUint(rand.Uint64()>>16, 36)
}

// newToken returns a token unique to one acquisition: the identity and 128
// random bits.
func (c *core) newToken() string {
	var buf [96]byte
	b := append(buf[:0], c.identity...)
	b = append(b, '#')
	b = strconv.AppendUint(b, rand.Uint64(), 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, rand.Uint64(), 36)
	return string(b)
}

// jittered shortens d by a random fraction of up to j.
func jittered(d time.Duration, j float64) time.Duration {
	if j <= 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*j*float64(d))
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// callCtx bounds one backend call by the time after which its answer is
// useless. Backends that never block skip it.
func (c *core) callCtx(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if c.sync {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// span starts a span for op when tracing is on.
func (c *core) span(ctx context.Context, op string) (context.Context, trace.Span) {
	if c.tracer == nil {
		return ctx, nil
	}
	return c.tracer.Start(ctx, "grel."+c.pattern+"."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("grel.pattern", c.pattern),
			attribute.String("grel.name", c.name),
			attribute.String("grel.backend", c.kind),
			attribute.String("grel.key", c.name),
		))
}

func endSpan(sp trace.Span, fence uint64, err error) {
	if sp == nil {
		return
	}
	if fence != 0 {
		sp.SetAttributes(attribute.Int64("grel.fence", int64(fence)))
	}
	if err != nil && !errors.Is(err, ErrNotAcquired) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

// attempt makes one acquisition with token. On success the hold's loss
// deadline is t0 + lossAfter, t0 taken before the request went out; an
// answer that arrives after that deadline is useless and the lease is freed
// again. rec is the record the store returned (the holder's when another
// holds it).
func (c *core) attempt(ctx context.Context, token string, owner holdOwner, meta map[string]string, live *liveSet) (*Hold, Record, error) {
	lease, lossAfter := owner.leases()
	t0 := time.Now()
	deadline := t0.Add(lossAfter)
	sctx, sp := c.span(ctx, "acquire")
	cctx, cancel := c.callCtx(sctx, deadline)
	rec, err := c.backend.Acquire(cctx, Request{Name: c.name, Token: token, Holder: c.identity, Lease: lease, Metadata: meta})
	cancel()
	endSpan(sp, rec.Fence, err)
	if err != nil {
		if errors.Is(err, ErrNotAcquired) {
			if ce := c.log.Check(zap.DebugLevel, "not acquired"); ce != nil {
				ce.Write(zap.String(grellog.FieldOp, "acquire"), zap.String(grellog.FieldHolder, rec.Holder))
			}
			return nil, rec, &NotAcquiredError{Name: c.name, Holder: rec.Holder}
		}
		if ctx.Err() != nil {
			return nil, Record{}, ctx.Err()
		}
		return nil, Record{}, err
	}
	if !time.Now().Before(deadline) {
		// Too late to be used safely: give it back.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), lossAfter)
		_ = c.backend.Release(rctx, c.name, token)
		rcancel()
		return nil, rec, &NotAcquiredError{Name: c.name, Err: errors.New("grellock: the store answered after the lease ended")}
	}
	h := &Hold{c: c, owner: owner, live: live, token: token, fence: rec.Fence, lease: lease, deadline: deadline}
	if live != nil && !live.add(h) {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), lossAfter)
		_ = c.backend.Release(rctx, c.name, token)
		rcancel()
		return nil, rec, ErrClosed
	}
	if ce := c.log.Check(zap.DebugLevel, "acquired"); ce != nil {
		ce.Write(zap.String(grellog.FieldOp, "acquire"), zap.Uint64(grellog.FieldFence, rec.Fence))
	}
	return h, rec, nil
}

// heldKey is the context key under which a context carries the holds it
// was derived from.
type heldKey struct{}

type heldNode struct {
	h    *Hold
	next *heldNode
}

func heldFrom(ctx context.Context) *heldNode {
	n, _ := ctx.Value(heldKey{}).(*heldNode)
	return n
}

// HoldFromContext returns the hold on name that ctx was derived from (by
// [Hold.Context], [Hold.Bind], [Lock.Do], [TaskLock.Run] or a leader's
// callback), so that code deep in a call can read the fence.
func HoldFromContext(ctx context.Context, name string) (*Hold, bool) {
	for n := heldFrom(ctx); n != nil; n = n.next {
		if n.h.c.name == name {
			return n.h, true
		}
	}
	return nil, false
}

// reentrant reports whether ctx carries a live hold of name on b.
func (c *core) reentrant(ctx context.Context) bool {
	for n := heldFrom(ctx); n != nil; n = n.next {
		if n.h.c.name == c.name && sameBackend(n.h.c.backend, c.backend) && n.h.Err() == nil {
			return true
		}
	}
	return false
}

// sameBackend compares two backends without panicking on uncomparable
// dynamic types.
func sameBackend(a, b Backend) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || !ta.Comparable() {
		return false
	}
	return a == b
}

func zapOp(op string) zap.Field { return zap.String(grellog.FieldOp, op) }

func zapErr(err error) zap.Field { return zap.Error(err) }
