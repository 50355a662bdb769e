package grelpipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

// Stage names one pattern of a pipeline.
type Stage int

// The stages, in the default order, outermost first.
const (
	StageFallback Stage = iota
	StageRetry
	StageBreaker
	StageBulkhead
	StageTimeout
)

func (s Stage) String() string {
	switch s {
	case StageFallback:
		return "fallback"
	case StageRetry:
		return "retry"
	case StageBreaker:
		return "breaker"
	case StageBulkhead:
		return "bulkhead"
	case StageTimeout:
		return "timeout"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// DefaultOrder is the order of the stages, outermost first, when none is
// given: fallback, retry, breaker, bulkhead, timeout.
//
//   - The fallback is outermost: it sees the final outcome, after the
//     retries gave up or the breaker refused.
//   - Retry wraps the breaker, so that every attempt asks the breaker: an
//     open breaker fails the attempt at once, without calling the
//     dependency, and its ErrOpen carries the time until it admits again,
//     which the retrier waits for (or gives up on at once when it is past the
//     deadline).
//   - The breaker wraps the bulkhead and the timeout, so that it counts
//     what the dependency did to each attempt: a timeout fired (a failure)
//     or a bulkhead full because calls pile up (a failure too; ignore
//     grelbulkhead.ErrBulkheadFull in the breaker's matcher if local
//     overload must not trip it).
//   - The bulkhead wraps the timeout, so that the time spent waiting for a
//     slot does not eat the attempt's own deadline, and a slot is held
//     exactly as long as the attempt runs.
//   - The timeout is innermost: it bounds each attempt, not the whole
//     series of attempts (bound that with the context's deadline or the
//     retrier's MaxElapsed).
func DefaultOrder() []Stage {
	return []Stage{StageFallback, StageRetry, StageBreaker, StageBulkhead, StageTimeout}
}

// Option adds a stage to a pipeline, or sets the order.
type Option func(*settings)

type settings struct {
	fallback any // a *grelfallback.Fallback[T]
	retry    *grelretry.Retrier
	breaker  *grelbreaker.Breaker
	bulkhead *grelbulkhead.Bulkhead
	timeout  *greltimeout.Timeout
	order    []Stage
}

// WithFallback adds a fallback stage. Its result type must be the
// pipeline's.
func WithFallback[T any](f *grelfallback.Fallback[T]) Option {
	return func(s *settings) { s.fallback = f }
}

// WithRetry adds a retry stage.
func WithRetry(r *grelretry.Retrier) Option { return func(s *settings) { s.retry = r } }

// WithBreaker adds a circuit-breaker stage.
func WithBreaker(b *grelbreaker.Breaker) Option { return func(s *settings) { s.breaker = b } }

// WithBulkhead adds a bulkhead stage.
func WithBulkhead(b *grelbulkhead.Bulkhead) Option { return func(s *settings) { s.bulkhead = b } }

// WithTimeout adds a timeout stage.
func WithTimeout(t *greltimeout.Timeout) Option { return func(s *settings) { s.timeout = t } }

// WithOrder sets the order of the stages, outermost first, instead of
// [DefaultOrder]. It must name every stage the pipeline has, each once.
func WithOrder(stages ...Stage) Option {
	return func(s *settings) { s.order = append([]Stage(nil), stages...) }
}

// Pipeline runs a function inside a fixed composition of resilience
// patterns. It is safe for concurrent use; it holds no state of its own
// beyond its stages'.
type Pipeline[T any] struct {
	stages []stage[T]
}

type stage[T any] struct {
	kind     Stage
	fallback *grelfallback.Fallback[T]
	retry    *grelretry.Retrier
	breaker  *grelbreaker.Breaker
	bulkhead *grelbulkhead.Bulkhead
	timeout  *greltimeout.Timeout
}

// ErrInvalid matches the errors of [New].
var ErrInvalid = errors.New("grelpipeline: invalid pipeline")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return "grelpipeline: " + e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// New returns a pipeline of the stages given, in [DefaultOrder] or in the
// order of [WithOrder]. A pipeline without stages runs the function as is.
func New[T any](opts ...Option) (*Pipeline[T], error) {
	s := &settings{}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	have := map[Stage]bool{}
	var fb *grelfallback.Fallback[T]
	if s.fallback != nil {
		f, ok := s.fallback.(*grelfallback.Fallback[T])
		if !ok {
			return nil, &invalidError{fmt.Sprintf("the fallback returns %s, the pipeline %s", typeArg(s.fallback), typeName[T]())}
		}
		fb, have[StageFallback] = f, f != nil
	}
	have[StageRetry] = s.retry != nil
	have[StageBreaker] = s.breaker != nil
	have[StageBulkhead] = s.bulkhead != nil
	have[StageTimeout] = s.timeout != nil
	order := s.order
	if order == nil {
		order = DefaultOrder()
	} else {
		seen := map[Stage]bool{}
		for _, st := range order {
			if st < StageFallback || st > StageTimeout {
				return nil, &invalidError{"unknown stage " + st.String() + " in the order"}
			}
			if seen[st] {
				return nil, &invalidError{"stage " + st.String() + " appears twice in the order"}
			}
			if !have[st] {
				return nil, &invalidError{"the order names " + st.String() + ", which the pipeline does not have"}
			}
			seen[st] = true
		}
		var missing []string
		for _, st := range DefaultOrder() {
			if have[st] && !seen[st] {
				missing = append(missing, st.String())
			}
		}
		if len(missing) > 0 {
			return nil, &invalidError{"the order leaves out " + strings.Join(missing, ", ")}
		}
	}
	p := &Pipeline[T]{}
	for _, st := range order {
		if !have[st] {
			continue
		}
		p.stages = append(p.stages, stage[T]{kind: st, fallback: fb, retry: s.retry, breaker: s.breaker, bulkhead: s.bulkhead, timeout: s.timeout})
	}
	return p, nil
}

// Order returns the pipeline's stages, outermost first.
func (p *Pipeline[T]) Order() []Stage {
	out := make([]Stage, len(p.stages))
	for i, s := range p.stages {
		out[i] = s.kind
	}
	return out
}

// Execute runs fn inside the pipeline's stages.
func (p *Pipeline[T]) Execute(ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	return p.run(ctx, 0, fn)
}

// Do runs fn, which returns no value, inside the pipeline's stages. A
// fallback's value is dropped; its error is returned.
func (p *Pipeline[T]) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	_, err := p.run(ctx, 0, func(ctx context.Context) (T, error) {
		var zero T
		return zero, fn(ctx)
	})
	return err
}

func (p *Pipeline[T]) run(ctx context.Context, i int, fn func(ctx context.Context) (T, error)) (T, error) {
	if i == len(p.stages) {
		return fn(ctx)
	}
	next := func(ctx context.Context) (T, error) { return p.run(ctx, i+1, fn) }
	switch s := &p.stages[i]; s.kind {
	case StageFallback:
		return s.fallback.Execute(ctx, next)
	case StageRetry:
		return grelretry.DoValue(ctx, s.retry, next)
	case StageBreaker:
		return grelbreaker.ExecuteValue(ctx, s.breaker, next)
	case StageBulkhead:
		return grelbulkhead.ExecuteValue(ctx, s.bulkhead, next)
	default:
		return greltimeout.ExecuteValue(ctx, s.timeout, next)
	}
}

func typeName[T any]() string { return fmt.Sprintf("%T", (*T)(nil))[1:] }

// typeArg names the result type of a *grelfallback.Fallback[X].
func typeArg(f any) string {
	s := fmt.Sprintf("%T", f)
	if i, j := strings.Index(s, "["), strings.LastIndex(s, "]"); i >= 0 && j > i {
		return s[i+1 : j]
	}
	return s
}
