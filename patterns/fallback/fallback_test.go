package grelfallback_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
)

var errDown = errors.New("down")

func TestFallback(t *testing.T) {
	errNotFound := errors.New("not found")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		f       *grelfallback.Fallback[string]
		ctx     context.Context
		v       string
		err     error
		wantV   string
		wantErr error
		used    bool
	}{
		{name: "success passes", f: grelfallback.Value("cached"), v: "fresh", wantV: "fresh"},
		{name: "error falls back", f: grelfallback.Value("cached"), err: errDown, wantV: "cached", used: true},
		{name: "the caller's cancellation does not", f: grelfallback.Value("cached"), ctx: canceled, err: context.Canceled, wantErr: context.Canceled},
		{name: "an inner timeout does", f: grelfallback.Value("cached"), err: context.DeadlineExceeded, wantV: "cached", used: true},
		{name: "matcher: only some errors", f: grelfallback.Value("cached", grelfallback.WithFallbackIf(grelmatch.Is(errDown))),
			err: errNotFound, wantErr: errNotFound},
		{name: "matcher: on results", f: grelfallback.Value("cached", grelfallback.WithFallbackIf(grelmatch.Or(grelmatch.AnyError(),
			grelmatch.Result(func(s string) bool { return s == "" })))), v: "", wantV: "cached", used: true},
		{name: "function gets the error", f: grelfallback.Func(func(_ context.Context, err error) (string, error) {
			return "from " + err.Error(), nil
		}), err: fmt.Errorf("get: %w", errDown), wantV: "from get: down", used: true},
		{name: "function's own error comes back", f: grelfallback.Func(func(context.Context, error) (string, error) {
			return "", errNotFound
		}), err: errDown, wantErr: errNotFound, used: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			calls := 0
			v, err := tt.f.Execute(ctx, func(context.Context) (string, error) { calls++; return tt.v, tt.err })
			if v != tt.wantV || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || calls != 1 {
				t.Fatalf("got %q, %v (%d calls); want %q, %v", v, err, calls, tt.wantV, tt.wantErr)
			}
		})
	}
}

func TestOnFallback(t *testing.T) {
	var events []grelfallback.Event
	f := grelfallback.Value(0, grelfallback.WithName("prices"), grelfallback.WithOnFallback(func(ev grelfallback.Event) { events = append(events, ev) }))
	_, _ = f.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil })
	_, _ = f.Execute(context.Background(), func(context.Context) (int, error) { return 0, errDown })
	if len(events) != 1 || events[0].Name != "prices" || events[0].Err != errDown {
		t.Fatalf("events %+v", events)
	}
}

func TestNoAllocOnSuccess(t *testing.T) {
	f := grelfallback.Value(7)
	fn := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _, _ = f.Execute(ctx, fn) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
