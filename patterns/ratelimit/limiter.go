package grelratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Limiter is a named rate limiter: per key, it grants or refuses permits
// under its algorithm, on its backend. It is safe for concurrent use.
type Limiter struct {
	name     string
	backend  Backend
	kind     string
	inMemory bool    // the backend is a *Memory: no timeout, no degradation
	local    *Memory // the FallbackLocal limiter of remote backends
	cur      atomic.Pointer[current]
	binding  grelconfig.Reloadable

	log *zap.Logger
	tel telemetry

	// downUntil is the wall-clock instant (UnixNano) until which decisions
	// degrade without calling the store; 0 when the store is believed up.
	downUntil atomic.Int64
	down      atomic.Bool
}

// current is one configuration, swapped whole by Reconfigure.
type current struct {
	cfg     Config
	policy  Policy
	proxies []netip.Prefix
}

func newCurrent(cfg Config) *current {
	proxies, _ := ParsePrefixes(cfg.TrustedProxies) // validated before
	return &current{cfg: cfg, policy: cfg.policy(), proxies: proxies}
}

// New returns the limiter called name on backend. Its config is resolved
// from opts, then GREL_RATELIMIT_{NAME}_*, then GREL_RATELIMIT_*, then the
// defaults, and validated. The name is an identifier (letters, digits,
// '_', '-', '.'); "" is the default limiter. The algorithm is chosen with
// [WithAlgorithm] (default TokenBucket).
func New(name string, backend Backend, opts ...Option) (*Limiter, error) {
	o := collect(opts)
	if err := checkName(name); err != nil {
		return nil, err
	}
	reg := o.registry
	if reg == nil {
		reg = grelconfig.NewRegistry(grelconfig.Env())
	}
	cfg, err := spec.Resolve(reg, name, o.settings...)
	if err != nil {
		return nil, err
	}
	return build(name, backend, cfg, o, o.settings)
}

// NewFromConfig returns the limiter called name on backend with cfg as
// given: no variable is read. Config-field options are applied on top of
// cfg. cfg is validated.
func NewFromConfig(name string, backend Backend, cfg Config, opts ...Option) (*Limiter, error) {
	o := collect(opts)
	if err := checkName(name); err != nil {
		return nil, err
	}
	for _, st := range o.settings {
		st.Apply(&cfg)
	}
	if err := spec.Validate(cfg); err != nil {
		return nil, err
	}
	settings := append([]grelconfig.Setting[Config]{algorithmField.Set(cfg.Algorithm)}, o.settings...)
	return build(name, backend, cfg, o, settings)
}

func collect(opts []Option) *options { return instance.Collect(&options{}, opts) }

func build(name string, backend Backend, cfg Config, o *options, settings []grelconfig.Setting[Config]) (*Limiter, error) {
	if backend == nil {
		return nil, ErrNoBackend
	}
	switch {
	case cfg.Algorithm == TokenBucket && o.windowOpt != "":
		return nil, fmt.Errorf("grelratelimit: limiter %q: %s applies to the sliding_window algorithm, but it uses token_bucket", name, o.windowOpt)
	case cfg.Algorithm == SlidingWindow && o.bucketOpt != "":
		return nil, fmt.Errorf("grelratelimit: limiter %q: %s applies to the token_bucket algorithm, but it uses sliding_window", name, o.bucketOpt)
	}
	l := &Limiter{name: name, backend: backend, kind: backend.Kind()}
	_, l.inMemory = backend.(*Memory)
	if !l.inMemory {
		l.local = NewMemory()
	}
	l.cur.Store(newCurrent(cfg))
	l.binding = spec.Bind(name, settings, l.Reconfigure)
	l.log = o.logger
	if l.log == nil {
		l.log = zap.NewNop()
	}
	l.log = l.log.With(zap.String(grellog.FieldPattern, "ratelimit"), zap.String(grellog.FieldName, name),
		zap.String(grellog.FieldBackend, l.kind))
	if err := l.tel.init(name, l.kind, o.tracer, o.meter); err != nil {
		return nil, err
	}
	return l, nil
}

func checkName(name string) error {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return ErrInvalidName
		}
	}
	if _, err := grelconfig.NormalizeName(name); err != nil {
		return errors.Join(ErrInvalidName, err)
	}
	return nil
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Config returns the current config.
func (l *Limiter) Config() Config { return l.cur.Load().cfg }

// Policy returns the current policy, as passed to the backend.
func (l *Limiter) Policy() Policy { return l.cur.Load().policy }

// Allow takes one permit for key if it is available now.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.do(ctx, opAllow, key, 1)
}

// AllowN takes n permits for key if they are all available now; a refused
// request takes none. n must be at least 1 ([ErrInvalidN]) and at most the
// Limit ([ErrExceedsLimit]). The error is otherwise nil unless ctx is done:
// a store failure is decided by the degradation policy and reported in
// [Result.Mode].
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	return l.do(ctx, opAllow, key, n)
}

// Peek reports what Allow would answer now, without taking anything. It
// costs one backend call and consumes nothing.
func (l *Limiter) Peek(ctx context.Context, key string) (Result, error) {
	return l.do(ctx, opPeek, key, 1)
}

// PeekN reports what AllowN(n) would answer now, without taking anything.
func (l *Limiter) PeekN(ctx context.Context, key string, n int) (Result, error) {
	return l.do(ctx, opPeek, key, n)
}

// Wait blocks until one permit for key is taken or ctx is done.
func (l *Limiter) Wait(ctx context.Context, key string) error { return l.WaitN(ctx, key, 1) }

// WaitN blocks until n permits for key are taken, retrying at each
// RetryAfter. It returns ctx.Err() as soon as ctx is done, and
// [ErrWaitExceedsDeadline] at once, without waiting, when the permits would
// come after ctx's deadline. Waiters are not queued: under contention a
// later caller may be served first.
func (l *Limiter) WaitN(ctx context.Context, key string, n int) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		r, err := l.AllowN(ctx, key, n)
		if err != nil {
			return err
		}
		if r.Allowed {
			return nil
		}
		delay := max(r.RetryAfter, time.Millisecond)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return ErrWaitExceedsDeadline
		}
		if timer == nil {
			timer = time.NewTimer(delay)
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Reset forgets key's state on the store (and in the local fallback): its
// next decision sees a full limit. A store failure is returned.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var span trace.Span
	if l.tel.tracer != nil {
		ctx, span = l.tel.start(ctx, opReset, key)
	}
	var err error
	if l.inMemory {
		err = l.backend.Reset(ctx, l.name, key)
	} else {
		_ = l.local.Reset(ctx, l.name, key)
		cctx, cancel := context.WithTimeout(ctx, l.cur.Load().cfg.Timeout)
		err = l.backend.Reset(cctx, l.name, key)
		cancel()
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	if span != nil {
		endSpan(span, err)
	}
	return err
}

func (l *Limiter) do(ctx context.Context, op op, key string, n int) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	cur := l.cur.Load()
	if n < 1 {
		return Result{}, ErrInvalidN
	}
	if int64(n) > cur.policy.Limit {
		return Result{Limit: int(cur.policy.Limit), RetryAfter: Never}, ErrExceedsLimit
	}
	req := Request{Name: l.name, Key: key, N: int64(n), Peek: op == opPeek, Policy: cur.policy}
	var span trace.Span
	if l.tel.tracer != nil {
		ctx, span = l.tel.start(ctx, op, key)
	}
	d, mode, err := l.decide(ctx, cur, req)
	if err != nil {
		if span != nil {
			endSpan(span, err)
		}
		return Result{}, err
	}
	r := Result{Allowed: d.Allowed, Limit: int(cur.policy.Limit), Remaining: int(d.Remaining),
		RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter, Mode: mode}
	if op == opAllow {
		l.tel.count(ctx, mode, d.Allowed)
	}
	if span != nil {
		l.tel.end(span, r)
	}
	if ce := l.log.Check(zap.DebugLevel, "rate limit decision"); ce != nil {
		ce.Write(zap.String(grellog.FieldOp, op.String()), zap.String(grellog.FieldKey, key), zap.Int("n", n),
			zap.Bool("allowed", r.Allowed), zap.Int("remaining", r.Remaining), zap.Stringer("mode", mode))
	}
	return r, nil
}

// decide asks the backend, within Timeout, unless the store is known down;
// on failure it applies the degradation policy.
func (l *Limiter) decide(ctx context.Context, cur *current, req Request) (Decision, Mode, error) {
	if l.inMemory {
		d, err := l.backend.Decide(ctx, req)
		return d, ModeNormal, err
	}
	if until := l.downUntil.Load(); until != 0 {
		now := time.Now().UnixNano()
		// Until the probe instant every decision degrades; then the one
		// caller that wins the swap probes the store.
		if now < until || !l.downUntil.CompareAndSwap(until, now+int64(cur.cfg.ProbeInterval)) {
			return l.degrade(ctx, cur, req)
		}
	}
	var d Decision
	var err error
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= cur.cfg.Timeout {
		d, err = l.backend.Decide(ctx, req) // the caller's deadline comes first: no timer of our own
	} else {
		cctx, cancel := context.WithTimeout(ctx, cur.cfg.Timeout)
		d, err = l.backend.Decide(cctx, req)
		cancel()
	}
	if err == nil {
		if l.down.Load() {
			l.downUntil.Store(0)
			if l.down.Swap(false) {
				l.log.Info("rate limit store recovered")
			}
		}
		return d, ModeNormal, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return Decision{}, ModeNormal, cerr // the caller gave up: not the store's fault
	}
	if pi := cur.cfg.ProbeInterval; pi > 0 {
		l.downUntil.Store(time.Now().Add(pi).UnixNano())
	}
	if !l.down.Swap(true) {
		l.log.Warn("rate limit store failed; degrading", zap.String("degradation", string(cur.cfg.Degradation)), zap.Error(err))
	} else if ce := l.log.Check(zap.DebugLevel, "rate limit store failed"); ce != nil {
		ce.Write(zap.Error(err))
	}
	return l.degrade(ctx, cur, req)
}

func (l *Limiter) degrade(ctx context.Context, cur *current, req Request) (Decision, Mode, error) {
	switch cur.cfg.Degradation {
	case FailOpen:
		return Decision{Allowed: true, Remaining: cur.policy.Limit}, ModeFailOpen, nil
	case FailClosed:
		retry := cur.cfg.ProbeInterval
		if retry <= 0 {
			retry = time.Second
		}
		return Decision{RetryAfter: retry}, ModeFailClosed, nil
	default:
		d, err := l.local.Decide(ctx, req)
		return d, ModeLocal, err
	}
}

// Reconfigure validates cfg and makes it current: the next decision uses
// it. The algorithm is the limiter's identity and cannot change. State
// kept on the store is reinterpreted under the new numbers (a token bucket
// keeps its debt in time; a sliding window keeps its counts).
func (l *Limiter) Reconfigure(cfg Config) error {
	if err := spec.Validate(cfg); err != nil {
		return err
	}
	if old := l.cur.Load(); cfg.Algorithm != old.cfg.Algorithm {
		return fmt.Errorf("grelratelimit: limiter %q: Algorithm cannot change: it is the limiter's identity", l.name)
	}
	l.cur.Store(newCurrent(cfg))
	l.log.Info("rate limit reconfigured")
	return nil
}

// ConfigKey identifies the limiter in a [grelconfig.Registry].
func (l *Limiter) ConfigKey() grelconfig.Key { return l.binding.ConfigKey() }

// Reload resolves the limiter's config again from reg's source, with the
// same options, and applies it through Reconfigure.
func (l *Limiter) Reload(reg *grelconfig.Registry) error { return l.binding.Reload(reg) }

var _ grelconfig.Reloadable = (*Limiter)(nil)
