package grelretry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"github.com/grelmicro/grelmicro-go/patterns/internal/instance"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// TracerName is the OpenTelemetry tracer name of this package.
const TracerName = "github.com/grelmicro/grelmicro-go/patterns/retry"

// Retrier runs a function again while its outcome is retryable, waiting
// between attempts. It is safe for concurrent use; each call of [Retrier.Do]
// or [DoValue] keeps its own count of attempts.
type Retrier struct {
	name    string
	cfg     atomic.Pointer[Config]
	log     *zap.Logger
	tracer  trace.Tracer // nil when the provider is the no-op one
	tel     *telemetry   // nil when the meter provider is the no-op one
	retryIf grelmatch.Matcher
	hooks   []func(Event)
	random  func() float64
	binding grelconfig.Reloadable
	// epoch lets a call note its start with a monotonic clock read only
	// (time.Since), cheaper than time.Now.
	epoch time.Time
}

var (
	_ grelconfig.Reloadable = (*Retrier)(nil)
	_ error                 = (*RetryError)(nil)
)

// New returns a retrier named name (empty for the default instance). Its
// config is resolved in the order of the contract: options, then
// GREL_RETRY_{NAME}_{FIELD}, then GREL_RETRY_{FIELD}, then the defaults.
func New(name string, opts ...Option) (*Retrier, error) {
	o := collect(opts)
	cfg, err := spec.Resolve(o.registry, name, o.settings...)
	if err != nil {
		return nil, newError(name, err)
	}
	r, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	r.binding = spec.Bind(name, o.settings, r.Reconfigure)
	return r, nil
}

// NewFromConfig returns a retrier with cfg as given (config options are
// applied on top of it); it reads no environment.
func NewFromConfig(name string, cfg Config, opts ...Option) (*Retrier, error) {
	o := collect(opts)
	cfg, err := instance.FromConfig(spec, name, cfg, o.settings, normalize)
	if err != nil {
		return nil, newError(name, err)
	}
	r, err := build(name, cfg, o)
	if err != nil {
		return nil, newError(name, err)
	}
	return r, nil
}

func newError(name string, err error) error {
	return instance.Error("grelretry", "retrier", name, err)
}

func collect(opts []Option) *options {
	return instance.Collect(&options{logger: zap.NewNop(), retryIf: grelmatch.AnyError(), random: rand.Float64}, opts)
}

func build(name string, cfg Config, o *options) (*Retrier, error) {
	r := &Retrier{
		name:    name,
		log:     o.logger.With(zap.String(grellog.FieldPattern, "retry"), zap.String(grellog.FieldName, name)),
		retryIf: o.retryIf,
		hooks:   o.hooks,
		random:  o.random,
		epoch:   time.Now(),
	}
	if tp := o.tracer; tp != nil {
		if _, isNoop := tp.(noop.TracerProvider); !isNoop {
			r.tracer = tp.Tracer(TracerName)
		}
	}
	tel, err := newTelemetry(o.meter, name)
	if err != nil {
		return nil, err
	}
	r.tel = tel
	r.cfg.Store(&cfg)
	return r, nil
}

// Name returns the retrier's name.
func (r *Retrier) Name() string { return r.name }

// Config returns the running config.
func (r *Retrier) Config() Config { return *r.cfg.Load() }

// Reconfigure validates cfg and makes it the running config from the next
// call of Do on. Calls in progress keep the config they started with.
func (r *Retrier) Reconfigure(cfg Config) error {
	cfg = normalize(cfg)
	if err := spec.Validate(cfg); err != nil {
		return newError(r.name, err)
	}
	r.cfg.Store(&cfg)
	return nil
}

// ConfigKey identifies the retrier in a [grelconfig.Registry].
func (r *Retrier) ConfigKey() grelconfig.Key { return grelconfig.Key{Kind: Kind, Instance: r.name} }

// Reload resolves the config again from reg's source and applies it. A
// retrier made by NewFromConfig has no variables and keeps its config.
func (r *Retrier) Reload(reg *grelconfig.Registry) error {
	if r.binding == nil {
		return nil
	}
	return r.binding.Reload(reg)
}

// Do calls fn until it returns nil, returns an error the retrier must not
// retry, or the retrier gives up (a [*RetryError]). fn runs in the caller's
// goroutine; the retrier starts none.
func (r *Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	var c call
	c.start(ctx, r)
	for {
		err := fn(ctx)
		if err == nil && !c.usesResult {
			c.end(nil, outSuccess)
			return nil
		}
		retry, out := c.classify(ctx, r.retryIf.Match(ctx, err), err)
		if !retry {
			c.end(out, settled(out))
			return out
		}
		if out = c.wait(ctx, err); out != nil {
			c.end(out, c.stop)
			return out
		}
	}
}

// DoValue is [Retrier.Do] for a function that returns a value. Result
// predicates of the retrier's matcher ([grelmatch.Result]) retry on results
// too; when the retrier gives up on a retryable result it returns that
// result with a [*RetryError].
func DoValue[T any](ctx context.Context, r *Retrier, fn func(ctx context.Context) (T, error)) (T, error) {
	var c call
	c.start(ctx, r)
	for {
		v, err := fn(ctx)
		if err == nil && !c.usesResult {
			c.end(nil, outSuccess)
			return v, nil
		}
		retry, out := c.classify(ctx, grelmatch.MatchValue(ctx, r.retryIf, v, err), err)
		if !retry {
			c.end(out, settled(out))
			return v, out
		}
		if out = c.wait(ctx, err); out != nil {
			c.end(out, c.stop)
			return v, out
		}
	}
}

// call is the state of one Do.
type call struct {
	r          *Retrier
	cfg        *Config
	begin      time.Duration // the first attempt's start, since r.epoch
	attempt    int
	usesResult bool
	timer      *time.Timer
	span       trace.Span
	ours       bool    // the span was started by this call
	stop       outcome // why the call gave up, set by giveUp
}

// settled is the outcome of a call that ends on an outcome it does not
// retry: success when there is no error, aborted otherwise.
func settled(err error) outcome {
	if err == nil {
		return outSuccess
	}
	return outAborted
}

func (c *call) start(ctx context.Context, r *Retrier) {
	c.r = r
	c.cfg = r.cfg.Load()
	c.attempt = 1
	c.begin = time.Since(r.epoch) // MaxElapsed and Elapsed count the first attempt
	c.usesResult = r.retryIf.UsesResult()
	if r.tracer != nil {
		_, c.span = r.tracer.Start(ctx, "grel.retry.do", trace.WithAttributes(
			attribute.String("grel.pattern", "retry"), attribute.String("grel.name", r.name)))
		c.ours = true
	} else if s := trace.SpanFromContext(ctx); s.IsRecording() {
		c.span = s
	}
}

func (c *call) end(err error, o outcome) {
	if c.timer != nil {
		c.timer.Stop()
	}
	if t := c.r.tel; t != nil {
		t.call(o)
	}
	if c.span == nil {
		return
	}
	c.event(err, 0)
	if c.ours {
		c.span.SetAttributes(attribute.Int("grel.retry.attempts", c.attempt))
		if err != nil {
			c.span.RecordError(err)
			c.span.SetStatus(codes.Error, "retry failed")
		}
		c.span.End()
	}
}

func (c *call) event(err error, wait time.Duration) {
	attrs := []attribute.KeyValue{attribute.Int("grel.retry.attempt", c.attempt)}
	if err != nil {
		attrs = append(attrs, attribute.String("error", err.Error()))
	}
	if wait > 0 {
		attrs = append(attrs, attribute.Int64("grel.retry.wait_ms", wait.Milliseconds()))
	}
	c.span.AddEvent("grel.retry.attempt", trace.WithAttributes(attrs...))
}

// classify decides whether an attempt that returned err (with matched, the
// matcher's verdict) is retried; when it is not, out is what Do returns.
func (c *call) classify(ctx context.Context, matched bool, err error) (retry bool, out error) {
	if pe, ok := errors.AsType[*PermanentError](err); ok {
		return false, pe.Err
	}
	if grelmatch.IsCallerCanceled(ctx, err) {
		return false, err
	}
	if !matched {
		return false, err
	}
	return true, nil
}

// wait decides whether to make another attempt after a retryable one that
// returned err, and waits for it. It returns nil to go on, or the error that
// Do returns.
func (c *call) wait(ctx context.Context, err error) error {
	cfg := c.cfg
	if cfg.MaxAttempts > 0 && c.attempt >= cfg.MaxAttempts {
		return c.giveUp(StopMaxAttempts, err, nil)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return c.giveUp(StopContext, err, ctxErr)
	}
	d := c.delay()
	if ra, ok := errors.AsType[RetryAfter](err); ok {
		if after := ra.RetryAfter(); after > d {
			d = after
		}
	}
	now := time.Now()
	elapsed := now.Sub(c.r.epoch) - c.begin
	if cfg.MaxElapsed > 0 && elapsed+d > cfg.MaxElapsed {
		return c.giveUp(StopMaxElapsed, err, nil)
	}
	if dl, ok := ctx.Deadline(); ok && !now.Add(d).Before(dl) {
		return c.giveUp(StopDeadline, err, nil)
	}
	r := c.r
	if len(r.hooks) > 0 {
		ev := Event{Name: r.name, Attempt: c.attempt, Err: err, Wait: d, Elapsed: elapsed}
		for _, h := range r.hooks {
			h(ev)
		}
	}
	if ce := r.log.Check(zap.DebugLevel, "retrying"); ce != nil {
		ce.Write(zap.Int("attempt", c.attempt), zap.Duration("wait", d), zap.Duration("elapsed", elapsed), zap.Error(err))
	}
	if c.span != nil {
		c.event(err, d)
	}
	if d <= 0 {
		c.next()
		return nil
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-c.timer.C:
		c.next()
		return nil
	case <-ctx.Done():
		return c.giveUp(StopContext, err, ctx.Err())
	}
}

// next counts the attempt about to be made.
func (c *call) next() {
	c.attempt++
	if t := c.r.tel; t != nil {
		t.retry()
	}
}

func (c *call) giveUp(reason StopReason, last, ctxErr error) error {
	c.stop = exhausted(reason)
	return &RetryError{Name: c.r.name, Attempts: c.attempt, Elapsed: time.Since(c.r.epoch) - c.begin, Last: last, Reason: reason, ctxErr: ctxErr}
}

// delay computes the wait after attempt c.attempt, jitter included.
func (c *call) delay() time.Duration {
	cfg := c.cfg
	n := c.attempt
	var d time.Duration
	switch cfg.Algorithm {
	case Constant:
		d = cfg.Delay
	case Linear:
		d = capMul(cfg.InitialDelay, float64(n), cfg.MaxDelay)
	case Exponential:
		d = capMul(cfg.InitialDelay, math.Pow(cfg.Factor, float64(n-1)), cfg.MaxDelay)
	case Fibonacci:
		// F(1) = F(2) = 1, F(n) = F(n-1) + F(n-2), scaled by InitialDelay.
		a, b := 1.0, 1.0
		for i := 2; i < n && float64(cfg.InitialDelay)*b < float64(cfg.MaxDelay); i++ {
			a, b = b, a+b
		}
		d = capMul(cfg.InitialDelay, b, cfg.MaxDelay)
	case Random:
		span := cfg.MaxDelay - cfg.MinDelay
		if span <= 0 {
			return cfg.MinDelay
		}
		return cfg.MinDelay + time.Duration(c.r.random()*float64(span))
	}
	switch cfg.Jitter {
	case JitterFull:
		d = time.Duration(c.r.random() * float64(d))
	case JitterEqual:
		d = d/2 + time.Duration(c.r.random()*float64(d/2))
	}
	return d
}

// capMul returns base × f, at most limit, without overflowing.
func capMul(base time.Duration, f float64, limit time.Duration) time.Duration {
	v := float64(base) * f
	if v >= float64(limit) || math.IsInf(v, 0) || math.IsNaN(v) {
		return limit
	}
	return time.Duration(v)
}

// String describes the retrier.
func (r *Retrier) String() string {
	cfg := r.cfg.Load()
	return "grelretry.Retrier(" + strconv.Quote(r.name) + ", " + string(cfg.Algorithm) + ")"
}
