package grelmatch

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
)

// Matcher decides whether the outcome of one call (its error, and for the
// generic forms its result) belongs to a class: retryable, a failure, a
// reason to fall back. Matchers are immutable values, safe for concurrent
// use, built by the functions of this package and combined with [Not],
// [And] and [Or]. The zero Matcher matches nothing.
type Matcher struct{ n *node }

type kind uint8

const (
	kindAnyError kind = iota + 1
	kindIs
	kindAs
	kindCause
	kindError
	kindMessage
	kindRegexp
	kindCallerCanceled
	kindResult
	kindNot
	kindAnd
	kindOr
	kindNever
)

type node struct {
	kind    kind
	targets []error
	errFn   func(error) bool // kindAs, kindCause, kindError
	substr  string
	re      *regexp.Regexp
	pred    any // kindResult: a func(T) bool
	kids    []*node
	// usesValue is true when the subtree holds a result predicate.
	usesValue bool
	desc      string
}

// IsZero reports whether m is the zero Matcher, which matches nothing.
func (m Matcher) IsZero() bool { return m.n == nil }

// UsesResult reports whether m holds a result predicate ([Result]), so that
// a pattern must evaluate it on successful calls too.
func (m Matcher) UsesResult() bool { return m.n != nil && m.n.usesValue }

// String describes the matcher, for logs and tests.
func (m Matcher) String() string {
	if m.n == nil {
		return "never"
	}
	return m.n.String()
}

func (n *node) String() string {
	switch n.kind {
	case kindNot:
		return "not(" + n.kids[0].String() + ")"
	case kindAnd, kindOr:
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.String()
		}
		name := "and"
		if n.kind == kindOr {
			name = "or"
		}
		return name + "(" + strings.Join(parts, ", ") + ")"
	}
	return n.desc
}

// Never matches nothing. It is the zero Matcher, spelled out.
func Never() Matcher { return Matcher{&node{kind: kindNever, desc: "never"}} }

// AnyError matches every call that returned a non-nil error.
func AnyError() Matcher { return Matcher{&node{kind: kindAnyError, desc: "any error"}} }

// Is matches an error for which errors.Is(err, target) holds for one of the
// targets. errors.Is searches the whole cause chain, errors.Join trees
// included.
func Is(targets ...error) Matcher {
	parts := make([]string, 0, len(targets))
	for _, t := range targets {
		if t != nil {
			parts = append(parts, t.Error())
		}
	}
	return Matcher{&node{kind: kindIs, targets: targets, desc: "is(" + strings.Join(parts, ", ") + ")"}}
}

// As matches an error with an error of type E anywhere in its cause chain
// (errors.As semantics, errors.Join trees included).
func As[E error]() Matcher {
	return Matcher{&node{kind: kindAs, errFn: func(err error) bool {
		_, ok := errors.AsType[E](err)
		return ok
	}, desc: "as(" + typeName[E]() + ")"}}
}

// AsFunc matches an error with an error of type E anywhere in its cause
// chain for which pred returns true; every error of type E in the chain is
// offered to pred, not only the first one.
func AsFunc[E error](pred func(E) bool) Matcher {
	return Matcher{&node{kind: kindAs, errFn: func(err error) bool {
		return walk(err, func(x error) bool {
			if e, ok := x.(E); ok && pred(e) { //nolint:errorlint // walk visits every error of the chain itself
				return true
			}
			if a, ok := x.(interface{ As(any) bool }); ok {
				var e E
				if a.As(&e) && pred(e) {
					return true
				}
			}
			return false
		})
	}, desc: "as(" + typeName[E]() + ", func)"}}
}

// Cause matches an error for which pred returns true for the error itself
// or any error in its cause chain.
func Cause(pred func(error) bool) Matcher {
	return Matcher{&node{kind: kindCause, errFn: func(err error) bool { return walk(err, pred) }, desc: "cause(func)"}}
}

// Error matches a non-nil error for which pred returns true. pred sees the
// error as returned, not its causes (use [Cause] for those).
func Error(pred func(error) bool) Matcher {
	return Matcher{&node{kind: kindError, errFn: pred, desc: "error(func)"}}
}

// Message matches an error whose message, or the message of any error in its
// cause chain, contains substr.
func Message(substr string) Matcher {
	return Matcher{&node{kind: kindMessage, substr: substr, desc: "message(" + substr + ")"}}
}

// MessageRegexp matches an error whose message, or the message of any error
// in its cause chain, matches re.
func MessageRegexp(re *regexp.Regexp) Matcher {
	return Matcher{&node{kind: kindRegexp, re: re, desc: "message(/" + re.String() + "/)"}}
}

// CallerCanceled matches the outcome of a call whose own context was
// cancelled or ran out of time by its caller; see [IsCallerCanceled].
func CallerCanceled() Matcher {
	return Matcher{&node{kind: kindCallerCanceled, desc: "caller canceled"}}
}

// Result matches a call that returned no error and a result for which pred
// returns true. It is evaluated only by the generic forms ([MatchValue]) with
// results of type T; results of another type, and calls evaluated without a
// result ([Matcher.Match]), never match it.
func Result[T any](pred func(T) bool) Matcher {
	return Matcher{&node{kind: kindResult, pred: pred, usesValue: true, desc: "result(" + typeName[T]() + ")"}}
}

// Not matches what m does not match.
func Not(m Matcher) Matcher {
	k := m.n
	if k == nil {
		k = Never().n
	}
	return Matcher{&node{kind: kindNot, kids: []*node{k}, usesValue: k.usesValue}}
}

// And matches what every one of ms matches. And() matches everything.
func And(ms ...Matcher) Matcher { return combine(kindAnd, ms) }

// Or matches what at least one of ms matches. Or() matches nothing.
func Or(ms ...Matcher) Matcher { return combine(kindOr, ms) }

func combine(k kind, ms []Matcher) Matcher {
	n := &node{kind: k, kids: make([]*node, 0, len(ms))}
	for _, m := range ms {
		c := m.n
		if c == nil {
			c = Never().n
		}
		n.kids = append(n.kids, c)
		n.usesValue = n.usesValue || c.usesValue
	}
	return Matcher{n}
}

// IsCallerCanceled reports whether err is the caller's own cancellation of
// the call: ctx (the context the caller passed to the pattern) is done and
// err is context.Canceled, context.DeadlineExceeded or ctx's cause, anywhere
// in its chain. An error raised by a deadline inside the call (an inner
// context.WithTimeout, a client timeout, a grel timeout nested in the
// pattern) while ctx is still live is not a caller cancellation: it is an
// ordinary error, usually a failure. A call that returned nil is never a
// cancellation.
func IsCallerCanceled(ctx context.Context, err error) bool {
	if err == nil || ctx == nil || ctx.Err() == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	cause := context.Cause(ctx)
	return cause != nil && errors.Is(err, cause)
}

// Match reports whether m matches a call that returned err, without a
// result. ctx is the context the caller passed to the pattern (for
// [CallerCanceled]). Result predicates do not match.
func (m Matcher) Match(ctx context.Context, err error) bool {
	if m.n == nil {
		return false
	}
	return m.n.matchErr(ctx, err)
}

// MatchValue reports whether m matches a call that returned v and err.
func MatchValue[T any](ctx context.Context, m Matcher, v T, err error) bool {
	if m.n == nil {
		return false
	}
	if !m.n.usesValue {
		return m.n.matchErr(ctx, err)
	}
	return evalValue(ctx, m.n, v, err)
}

func evalValue[T any](ctx context.Context, n *node, v T, err error) bool {
	switch n.kind {
	case kindResult:
		if err != nil {
			return false
		}
		p, ok := n.pred.(func(T) bool)
		return ok && p(v)
	case kindNot:
		return !evalValue(ctx, n.kids[0], v, err)
	case kindAnd:
		for _, k := range n.kids {
			if !evalValue(ctx, k, v, err) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.kids {
			if evalValue(ctx, k, v, err) {
				return true
			}
		}
		return false
	}
	return n.matchErr(ctx, err)
}

func (n *node) matchErr(ctx context.Context, err error) bool {
	switch n.kind {
	case kindNot:
		return !n.kids[0].matchErr(ctx, err)
	case kindAnd:
		for _, k := range n.kids {
			if !k.matchErr(ctx, err) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.kids {
			if k.matchErr(ctx, err) {
				return true
			}
		}
		return false
	case kindResult, kindNever:
		return false
	}
	if err == nil {
		return false
	}
	switch n.kind {
	case kindAnyError:
		return true
	case kindIs:
		for _, t := range n.targets {
			if t != nil && errors.Is(err, t) {
				return true
			}
		}
		return false
	case kindAs, kindCause, kindError:
		return n.errFn(err)
	case kindMessage:
		return walk(err, func(x error) bool { return strings.Contains(x.Error(), n.substr) })
	case kindRegexp:
		return walk(err, func(x error) bool { return n.re.MatchString(x.Error()) })
	case kindCallerCanceled:
		return IsCallerCanceled(ctx, err)
	}
	return false
}

// walk calls f on err and every error in its cause chain, depth first,
// following Unwrap() error and Unwrap() []error, until f returns true.
func walk(err error, f func(error) bool) bool {
	for depth := 0; err != nil && depth < maxDepth; depth++ {
		if f(err) {
			return true
		}
		switch x := err.(type) { //nolint:errorlint // the chain walk itself
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// maxDepth bounds a cause chain walk, against an error whose Unwrap loops.
const maxDepth = 1000

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
