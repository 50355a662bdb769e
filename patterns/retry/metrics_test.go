package grelretry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/fx"
)

var errFatal = errors.New("fatal")

// TestMetrics runs one call per step on one retrier and checks the
// counters after each: the calls by outcome (and reason) and the retries.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := metrictest.New(t)
		r := mustNew(t, grelretry.WithMeterProvider(reader.Provider), grelretry.WithMaxAttempts(3),
			grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Second),
			grelretry.WithJitter(grelretry.JitterNone), grelretry.WithRetryIf(grelmatch.Not(grelmatch.Is(errFatal))))
		// fails returns a function that fails n times, then succeeds.
		fails := func(n int, err error) func(context.Context) error {
			return func(context.Context) error {
				if n > 0 {
					n--
					return err
				}
				return nil
			}
		}
		type want struct {
			outcome, reason string
			retries         int64 // retries of this call
		}
		tests := []struct {
			name string
			ctx  func() (context.Context, context.CancelFunc)
			fn   func(context.Context) error
			want want
		}{
			{name: "first success", fn: fails(0, nil), want: want{outcome: "success"}},
			{name: "success after two retries", fn: fails(2, errTransient), want: want{outcome: "success", retries: 2}},
			{name: "max attempts", fn: fails(5, errTransient), want: want{outcome: "exhausted", reason: "max_attempts", retries: 2}},
			{name: "not retryable", fn: fails(1, errFatal), want: want{outcome: "aborted"}},
			{name: "permanent", fn: fails(1, grelretry.Permanent(errTransient)), want: want{outcome: "aborted"}},
			{
				name: "the next wait ends past the deadline",
				ctx: func() (context.Context, context.CancelFunc) {
					return context.WithTimeout(context.Background(), 1500*time.Millisecond)
				},
				fn: fails(5, errTransient), want: want{outcome: "exhausted", reason: "deadline", retries: 1},
			},
			{
				name: "cancelled while waiting",
				ctx: func() (context.Context, context.CancelFunc) {
					ctx, cancel := context.WithCancel(context.Background())
					time.AfterFunc(500*time.Millisecond, cancel)
					return ctx, cancel
				},
				fn: fails(5, errTransient), want: want{outcome: "exhausted", reason: "context"},
			},
		}
		calls := map[want]int64{}
		var retries int64
		for _, tt := range tests {
			ctx, cancel := context.Background(), func() {}
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			_ = r.Do(ctx, tt.fn)
			cancel()
			key := want{outcome: tt.want.outcome, reason: tt.want.reason}
			calls[key]++
			retries += tt.want.retries
			for k, n := range calls {
				attrs := []attribute.KeyValue{attribute.String("grel.name", "test"), attribute.String("outcome", k.outcome)}
				if k.reason != "" {
					attrs = append(attrs, attribute.String("reason", k.reason))
				}
				if got := reader.Int(grelretry.MetricCalls, attrs...); got != n {
					t.Fatalf("after %q: %d calls %s/%s, want %d", tt.name, got, k.outcome, k.reason, n)
				}
			}
			if got := reader.Int(grelretry.MetricRetries, attribute.String("grel.name", "test")); got != retries {
				t.Fatalf("after %q: %d retries, want %d", tt.name, got, retries)
			}
		}
		if got := reader.Int(grelretry.MetricCalls); got != int64(len(tests)) {
			t.Fatalf("%d calls in all, want %d", got, len(tests))
		}
	})
}

// DoValue counts like Do: a retryable result retried then accepted is one
// success after one retry.
func TestMetricsDoValue(t *testing.T) {
	reader := metrictest.New(t)
	r := mustNew(t, grelretry.WithMeterProvider(reader.Provider), grelretry.WithAlgorithm(grelretry.Constant),
		grelretry.WithDelay(0), grelretry.WithRetryIf(grelmatch.Result(func(n int) bool { return n < 2 })))
	n := 0
	if v, err := grelretry.DoValue(context.Background(), r, func(context.Context) (int, error) { n++; return n, nil }); err != nil || v != 2 {
		t.Fatalf("DoValue: %d, %v", v, err)
	}
	if got := reader.Int(grelretry.MetricCalls, attribute.String("outcome", "success")); got != 1 {
		t.Fatalf("%d successes, want 1", got)
	}
	if got := reader.Int(grelretry.MetricRetries); got != 1 {
		t.Fatalf("%d retries, want 1", got)
	}
	if m := reader.Metrics(); m[grelretry.MetricCalls].Unit != "{call}" || m[grelretry.MetricRetries].Unit != "{retry}" {
		t.Fatalf("units %q %q", m[grelretry.MetricCalls].Unit, m[grelretry.MetricRetries].Unit)
	}
}

// A first-try success allocates nothing with the no-op meter provider, and
// nothing either with a real one (the attribute sets are built once).
func TestFirstSuccessAllocatesNothingWithMetrics(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	for name, r := range map[string]*grelretry.Retrier{
		"no-op": mustNew(t, grelretry.WithMeterProvider(noop.NewMeterProvider())),
		"sdk":   mustNew(t, grelretry.WithMeterProvider(metrictest.New(t).Provider)),
	} {
		if n := testing.AllocsPerRun(200, func() { _, _ = grelretry.DoValue(ctx, r, fn) }); n != 0 {
			t.Errorf("%s: DoValue first success: %v allocs, want 0", name, n)
		}
	}
}

// The Module gives its retriers the app's meter provider.
func TestModuleMetrics(t *testing.T) {
	var reader *sdkmetric.ManualReader
	var r *grelretry.Retrier
	fxgreltest.Start(t, nil, grelretry.Named("payments"), fx.Populate(&reader),
		fx.Invoke(fx.Annotate(func(p *grelretry.Retrier) { r = p }, fx.ParamTags(grelretry.Tag("payments")))))
	if err := r.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	m, ok := fxgreltest.FindMetric(fxgreltest.CollectMetrics(t, reader), grelretry.MetricCalls)
	if !ok {
		t.Fatal("no grel.retry.calls in the app's metrics")
	}
	sum, _ := m.Data.(metricdata.Sum[int64])
	if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 1 {
		t.Fatalf("grel.retry.calls %+v, want one success of payments", m.Data)
	}
	if v, _ := sum.DataPoints[0].Attributes.Value("grel.name"); v.AsString() != "payments" {
		t.Fatalf("attributes %v", sum.DataPoints[0].Attributes)
	}
}

// BenchmarkDoValueFirstSuccessMetered is BenchmarkDoValueFirstSuccess with
// a real meter provider: the price of the grel.retry.calls counter.
func BenchmarkDoValueFirstSuccessMetered(b *testing.B) {
	r, _ := grelretry.New("bench", noEnv(), grelretry.WithMeterProvider(metrictest.New(b).Provider))
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = grelretry.DoValue(ctx, r, fn)
	}
}
