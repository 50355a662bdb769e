package grelfallback_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
)

var errDown = errors.New("down")

func TestFallback(t *testing.T) {
	errNotFound := errors.New("not found")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cached := func(opts ...grelfallback.Option) func(...grelfallback.Option) *grelfallback.Fallback[string] {
		return func(more ...grelfallback.Option) *grelfallback.Fallback[string] {
			return grelfallback.Value("cached", append(opts, more...)...)
		}
	}
	fromFunc := func(fn func(context.Context, error) (string, error)) func(...grelfallback.Option) *grelfallback.Fallback[string] {
		return func(opts ...grelfallback.Option) *grelfallback.Fallback[string] {
			return grelfallback.Func(fn, opts...)
		}
	}
	tests := []struct {
		name    string
		f       func(...grelfallback.Option) *grelfallback.Fallback[string]
		ctx     context.Context
		v       string
		err     error
		wantV   string
		wantErr error
		used    bool // the fallback replaced the outcome
	}{
		{name: "success passes", f: cached(), v: "fresh", wantV: "fresh"},
		{name: "error falls back", f: cached(), err: errDown, wantV: "cached", used: true},
		{name: "the caller's cancellation does not", f: cached(), ctx: canceled, err: context.Canceled, wantErr: context.Canceled},
		{name: "an inner timeout does", f: cached(), err: context.DeadlineExceeded, wantV: "cached", used: true},
		{name: "matcher: only some errors", f: cached(grelfallback.WithFallbackIf(grelmatch.Is(errDown))),
			err: errNotFound, wantErr: errNotFound},
		{name: "matcher: on results", f: cached(grelfallback.WithFallbackIf(grelmatch.Or(grelmatch.AnyError(),
			grelmatch.Result(func(s string) bool { return s == "" })))), v: "", wantV: "cached", used: true},
		{name: "function gets the error", f: fromFunc(func(_ context.Context, err error) (string, error) {
			return "from " + err.Error(), nil
		}), err: fmt.Errorf("get: %w", errDown), wantV: "from get: down", used: true},
		{name: "function's own error comes back", f: fromFunc(func(context.Context, error) (string, error) {
			return "", errNotFound
		}), err: errDown, wantErr: errNotFound, used: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			reader := metrictest.New(t)
			events := 0
			f := tt.f(grelfallback.WithName("prices"), grelfallback.WithMeterProvider(reader.Provider),
				grelfallback.WithOnFallback(func(grelfallback.Event) { events++ }))
			calls := 0
			v, err := f.Execute(ctx, func(context.Context) (string, error) { calls++; return tt.v, tt.err })
			if v != tt.wantV || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || calls != 1 {
				t.Fatalf("got %q, %v (%d calls); want %q, %v", v, err, calls, tt.wantV, tt.wantErr)
			}
			want := 0
			if tt.used {
				want = 1
			}
			if events != want {
				t.Errorf("%d events, want %d", events, want)
			}
			if n := reader.Int(grelfallback.MetricFallbacks, attribute.String("grel.name", "prices")); n != int64(want) {
				t.Errorf("%s = %d, want %d", grelfallback.MetricFallbacks, n, want)
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
	fn := func(context.Context) (int, error) { return 1, nil }
	fail := func(context.Context) (int, error) { return 0, errDown }
	ctx := context.Background()
	for name, f := range map[string]*grelfallback.Fallback[int]{
		"no meter": grelfallback.Value(7),
		"no-op":    grelfallback.Value(7, grelfallback.WithMeterProvider(noop.NewMeterProvider())),
		"sdk":      grelfallback.Value(7, grelfallback.WithMeterProvider(metrictest.New(t).Provider)),
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = f.Execute(ctx, fn) }); n != 0 {
			t.Errorf("%s: success: %v allocs", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = f.Execute(ctx, fail) }); n != 0 {
			t.Errorf("%s: fallback: %v allocs", name, n)
		}
	}
}
