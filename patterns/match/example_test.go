package grelmatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
)

type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

func Example() {
	retryable := grelmatch.Or(
		grelmatch.Is(io.ErrUnexpectedEOF),
		grelmatch.AsFunc(func(e *statusError) bool { return e.code >= 500 }),
	)
	ctx := context.Background()
	fmt.Println(retryable.Match(ctx, fmt.Errorf("read: %w", io.ErrUnexpectedEOF)))
	fmt.Println(retryable.Match(ctx, errors.Join(errors.New("call"), &statusError{code: 503})))
	fmt.Println(retryable.Match(ctx, &statusError{code: 404}))
	// Output:
	// true
	// true
	// false
}

func ExampleResult() {
	unavailable := grelmatch.Or(
		grelmatch.AnyError(),
		grelmatch.Result(func(r *http.Response) bool { return r.StatusCode == http.StatusServiceUnavailable }),
	)
	ctx := context.Background()
	fmt.Println(grelmatch.MatchValue(ctx, unavailable, &http.Response{StatusCode: 503}, nil))
	fmt.Println(grelmatch.MatchValue(ctx, unavailable, &http.Response{StatusCode: 200}, nil))
	// Output:
	// true
	// false
}

func ExampleIsCallerCanceled() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println(grelmatch.IsCallerCanceled(ctx, context.Canceled))
	// A deadline inside the call while the caller's context is live is an
	// ordinary error.
	fmt.Println(grelmatch.IsCallerCanceled(context.Background(), context.DeadlineExceeded))
	// Output:
	// true
	// false
}

func ExampleNot() {
	notFound := errors.New("not found")
	failure := grelmatch.And(grelmatch.AnyError(), grelmatch.Not(grelmatch.Is(notFound)))
	ctx := context.Background()
	fmt.Println(failure.Match(ctx, notFound), failure.Match(ctx, io.EOF))
	// Output: false true
}
