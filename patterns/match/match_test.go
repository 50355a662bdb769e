package grelmatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"regexp"
	"testing"
	"time"

	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
)

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

// hidden hides its cause from its message.
type hidden struct{ cause error }

func (e hidden) Error() string { return "opaque" }
func (e hidden) Unwrap() error { return e.cause }

// asAdapter converts itself through an As method.
type asAdapter struct{}

func (asAdapter) Error() string { return "adapter" }
func (asAdapter) As(target any) bool {
	if p, ok := target.(**codeError); ok {
		*p = &codeError{code: 418}
		return true
	}
	return false
}

var errBoom = errors.New("boom")

func TestMatchError(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	causeErr := errors.New("shutting down")
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cancel3(causeErr)

	wrapped := fmt.Errorf("op: %w", errBoom)
	joined := errors.Join(io.EOF, fmt.Errorf("x: %w", &codeError{code: 503}))
	deep := hidden{cause: hidden{cause: &codeError{code: 7}}}

	tests := []struct {
		name string
		m    grelmatch.Matcher
		ctx  context.Context
		err  error
		want bool
	}{
		{"zero matches nothing", grelmatch.Matcher{}, live, errBoom, false},
		{"never", grelmatch.Never(), live, errBoom, false},
		{"any error nil", grelmatch.AnyError(), live, nil, false},
		{"any error", grelmatch.AnyError(), live, errBoom, true},
		{"is direct", grelmatch.Is(errBoom), live, errBoom, true},
		{"is wrapped", grelmatch.Is(errBoom), live, wrapped, true},
		{"is other", grelmatch.Is(io.EOF), live, wrapped, false},
		{"is several targets", grelmatch.Is(io.EOF, errBoom), live, wrapped, true},
		{"is in join", grelmatch.Is(io.EOF), live, joined, true},
		{"is nil error", grelmatch.Is(errBoom), live, nil, false},
		{"is nil target ignored", grelmatch.Is(nil), live, errBoom, false},
		{"as type", grelmatch.As[*codeError](), live, joined, true},
		{"as type missing", grelmatch.As[*net.OpError](), live, joined, false},
		{"as through hidden chain", grelmatch.As[*codeError](), live, deep, true},
		{"as through As method", grelmatch.As[*codeError](), live, asAdapter{}, true},
		{"as func true", grelmatch.AsFunc(func(e *codeError) bool { return e.code >= 500 }), live, joined, true},
		{"as func false", grelmatch.AsFunc(func(e *codeError) bool { return e.code == 404 }), live, joined, false},
		{"as func second in chain", grelmatch.AsFunc(func(e *codeError) bool { return e.code == 2 }),
			live, fmt.Errorf("a: %w", errors.Join(&codeError{code: 1}, &codeError{code: 2})), true},
		{"as func via As method", grelmatch.AsFunc(func(e *codeError) bool { return e.code == 418 }), live, asAdapter{}, true},
		{"message substring", grelmatch.Message("boom"), live, wrapped, true},
		{"message absent", grelmatch.Message("bang"), live, wrapped, false},
		{"message of hidden cause", grelmatch.Message("code 7"), live, deep, true},
		{"message in join branch", grelmatch.Message("code 503"), live, joined, true},
		{"regexp", grelmatch.MessageRegexp(regexp.MustCompile(`code 5\d\d`)), live, joined, true},
		{"regexp hidden", grelmatch.MessageRegexp(regexp.MustCompile(`^code 7$`)), live, deep, true},
		{"regexp absent", grelmatch.MessageRegexp(regexp.MustCompile(`^nope$`)), live, deep, false},
		{"error func sees top only", grelmatch.Error(func(e error) bool { return e == errBoom }), live, wrapped, false},
		{"error func top", grelmatch.Error(func(e error) bool { return e == errBoom }), live, errBoom, true},
		{"error func nil", grelmatch.Error(func(e error) bool { return true }), live, nil, false},
		{"cause func", grelmatch.Cause(func(e error) bool { return e == errBoom }), live, wrapped, true},
		{"not", grelmatch.Not(grelmatch.Is(errBoom)), live, io.EOF, true},
		{"not matched", grelmatch.Not(grelmatch.Is(errBoom)), live, wrapped, false},
		{"not zero", grelmatch.Not(grelmatch.Matcher{}), live, errBoom, true},
		{"and all", grelmatch.And(grelmatch.AnyError(), grelmatch.Is(errBoom)), live, wrapped, true},
		{"and one fails", grelmatch.And(grelmatch.AnyError(), grelmatch.Is(io.EOF)), live, wrapped, false},
		{"and empty", grelmatch.And(), live, nil, true},
		{"or one", grelmatch.Or(grelmatch.Is(io.EOF), grelmatch.Message("boom")), live, wrapped, true},
		{"or none", grelmatch.Or(grelmatch.Is(io.EOF), grelmatch.Message("bang")), live, wrapped, false},
		{"or empty", grelmatch.Or(), live, errBoom, false},
		{"result never matches without value", grelmatch.Result(func(int) bool { return true }), live, nil, false},
		{"canceled by caller", grelmatch.CallerCanceled(), canceled, context.Canceled, true},
		{"canceled wrapped", grelmatch.CallerCanceled(), canceled, fmt.Errorf("get: %w", context.Canceled), true},
		{"deadline of caller", grelmatch.CallerCanceled(), expired, context.DeadlineExceeded, true},
		{"cause of caller", grelmatch.CallerCanceled(), withCause, fmt.Errorf("x: %w", causeErr), true},
		{"inner timeout, caller live", grelmatch.CallerCanceled(), live, context.DeadlineExceeded, false},
		{"caller done, other error", grelmatch.CallerCanceled(), canceled, errBoom, false},
		{"caller done, nil error", grelmatch.CallerCanceled(), canceled, nil, false},
		{"not canceled, live", grelmatch.Not(grelmatch.CallerCanceled()), live, context.Canceled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Match(tt.ctx, tt.err); got != tt.want {
				t.Errorf("%s.Match(%v) = %v, want %v", tt.m, tt.err, got, tt.want)
			}
			// The generic form agrees for matchers without result predicates.
			if got := grelmatch.MatchValue(tt.ctx, tt.m, 0, tt.err); !tt.m.UsesResult() && got != tt.want {
				t.Errorf("MatchValue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchValue(t *testing.T) {
	ctx := context.Background()
	is503 := grelmatch.Result(func(code int) bool { return code == 503 })
	tests := []struct {
		name string
		m    grelmatch.Matcher
		v    int
		err  error
		want bool
	}{
		{"result true", is503, 503, nil, true},
		{"result false", is503, 200, nil, false},
		{"result with error", is503, 503, errBoom, false},
		{"or result or error: error", grelmatch.Or(grelmatch.AnyError(), is503), 0, errBoom, true},
		{"or result or error: result", grelmatch.Or(grelmatch.AnyError(), is503), 503, nil, true},
		{"or result or error: neither", grelmatch.Or(grelmatch.AnyError(), is503), 200, nil, false},
		{"not result", grelmatch.Not(is503), 200, nil, true},
		{"and result", grelmatch.And(is503, grelmatch.Not(grelmatch.AnyError())), 503, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.m.UsesResult() {
				t.Fatal("UsesResult = false")
			}
			if got := grelmatch.MatchValue(ctx, tt.m, tt.v, tt.err); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.m, got, tt.want)
			}
		})
	}
	// A predicate on another type never matches.
	if grelmatch.MatchValue(ctx, is503, "503", nil) {
		t.Error("a result predicate on int matched a string result")
	}
}

func TestString(t *testing.T) {
	m := grelmatch.Or(grelmatch.Is(io.EOF), grelmatch.Not(grelmatch.As[*fs.PathError]()), grelmatch.And(grelmatch.Message("x"), grelmatch.Result(func(int) bool { return true })))
	want := "or(is(EOF), not(as(*fs.PathError)), and(message(x), result(int)))"
	if got := m.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (grelmatch.Matcher{}).String(); got != "never" {
		t.Errorf("zero String() = %q", got)
	}
}

// loop is an error whose Unwrap returns itself.
type loop struct{}

func (l *loop) Error() string { return "loop" }
func (l *loop) Unwrap() error { return l }

func TestCyclicChainTerminates(t *testing.T) {
	if grelmatch.Message("never").Match(context.Background(), &loop{}) {
		t.Fatal("matched")
	}
}

func TestNilErrorAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	m := grelmatch.And(grelmatch.AnyError(), grelmatch.Not(grelmatch.CallerCanceled()))
	if n := testing.AllocsPerRun(100, func() { _ = m.Match(ctx, nil); _ = grelmatch.MatchValue(ctx, m, 42, nil) }); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func BenchmarkMatchNil(b *testing.B) {
	ctx := context.Background()
	m := grelmatch.And(grelmatch.AnyError(), grelmatch.Not(grelmatch.CallerCanceled()))
	for b.Loop() {
		_ = m.Match(ctx, nil)
	}
}
