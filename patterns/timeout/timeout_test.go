package greltimeout_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	"github.com/grelmicro/grelmicro-go/internal/metrictest"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t *testing.T, name string, d time.Duration) *greltimeout.Timeout {
	t.Helper()
	to, err := greltimeout.NewFromConfig(name, greltimeout.Config{Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// waitCtx waits for its context, at most an hour.
func waitCtx(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Hour):
		return nil
	}
}

func TestExecute(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		parent  func() (context.Context, context.CancelFunc)
		fn      func(ctx context.Context) error
		took    time.Duration
		ours    bool
		wantErr error // errors.Is; nil for no error
	}{
		{name: "fast call", fn: func(context.Context) error { return nil }},
		{name: "fast error is returned as is", fn: func(context.Context) error { return errBoom }, wantErr: errBoom},
		{name: "our deadline fires", fn: waitCtx, took: time.Second, ours: true, wantErr: context.DeadlineExceeded},
		{name: "a call that wraps the deadline", fn: func(ctx context.Context) error {
			<-ctx.Done()
			return errors.Join(errBoom, context.Cause(ctx))
		}, took: time.Second, ours: true, wantErr: errBoom},
		{name: "a late result is kept", fn: func(context.Context) error { time.Sleep(2 * time.Second); return nil }, took: 2 * time.Second},
		{name: "the caller's earlier deadline is not ours",
			parent: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			fn: waitCtx, took: 300 * time.Millisecond, wantErr: context.DeadlineExceeded},
		{name: "the caller's cancellation is not ours",
			parent: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx, cancel
			},
			fn: waitCtx, took: 200 * time.Millisecond, wantErr: context.Canceled},
		{name: "a deadline inside the call is not ours", fn: func(ctx context.Context) error {
			ictx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			return waitCtx(ictx)
		}, took: 100 * time.Millisecond, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reader := metrictest.New(t)
				to, err := greltimeout.NewFromConfig("inventory", greltimeout.Config{Duration: time.Second}, greltimeout.WithMeterProvider(reader.Provider))
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if tt.parent != nil {
					var cancel context.CancelFunc
					ctx, cancel = tt.parent()
					defer cancel()
				}
				begin := time.Now()
				err = to.Execute(ctx, tt.fn)
				if d := time.Since(begin); d != tt.took {
					t.Errorf("took %v, want %v", d, tt.took)
				}
				var te *greltimeout.TimeoutError
				if ours := errors.As(err, &te); ours != tt.ours || errors.Is(err, greltimeout.ErrTimeout) != tt.ours {
					t.Fatalf("err %v: ours = %v, want %v", err, ours, tt.ours)
				}
				if tt.ours && (te.Timeout != time.Second || te.Name != "inventory") {
					t.Errorf("TimeoutError %+v", te)
				}
				if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err %v, want %v", err, tt.wantErr)
				}
				want := int64(0)
				if tt.ours {
					want = 1
				}
				if n := reader.Int(greltimeout.MetricTimeouts, attribute.String("grel.name", "inventory")); n != want {
					t.Errorf("%s = %d, want %d", greltimeout.MetricTimeouts, n, want)
				}
				// The same through the generic form.
				v, err2 := greltimeout.ExecuteValue(ctx, to, func(ctx context.Context) (int, error) { return 7, nil })
				if v != 7 || err2 != nil && ctx.Err() == nil {
					t.Errorf("ExecuteValue %d %v", v, err2)
				}
			})
		})
	}
}

func TestNestedTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer, inner := mustNew(t, "outer", time.Second), mustNew(t, "inner", 5*time.Second)
		err := outer.Execute(context.Background(), func(ctx context.Context) error {
			err := inner.Execute(ctx, waitCtx)
			var te *greltimeout.TimeoutError
			if errors.As(err, &te) {
				t.Errorf("inner claims the outer deadline: %v", err)
			}
			return err
		})
		var te *greltimeout.TimeoutError
		if !errors.As(err, &te) || te.Name != "outer" {
			t.Fatalf("err %v", err)
		}
		if msg := err.Error(); msg != "greltimeout: outer: timed out after 1s: context deadline exceeded" {
			t.Fatalf("message %q", msg)
		}
	})
}

func TestValueOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := metrictest.New(t)
		to, err := greltimeout.NewFromConfig("", greltimeout.Config{Duration: time.Second}, greltimeout.WithMeterProvider(reader.Provider))
		if err != nil {
			t.Fatal(err)
		}
		v, err := greltimeout.ExecuteValue(context.Background(), to, func(ctx context.Context) (string, error) {
			return "partial", waitCtx(ctx)
		})
		if v != "partial" || !errors.Is(err, greltimeout.ErrTimeout) || !strings.HasPrefix(err.Error(), "greltimeout: timed out") {
			t.Fatalf("%q %v", v, err)
		}
		if n := reader.Int(greltimeout.MetricTimeouts, attribute.String("grel.name", "")); n != 1 {
			t.Fatalf("%s = %d, want 1", greltimeout.MetricTimeouts, n)
		}
		if u := reader.Metrics()[greltimeout.MetricTimeouts].Unit; u != "{call}" {
			t.Fatalf("unit %q", u)
		}
	})
}

func TestConfig(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_TIMEOUT_DURATION": "3", "GREL_TIMEOUT_SLOW_DURATION": "1m"}))
	a, err := greltimeout.New("fast", greltimeout.WithRegistry(reg))
	if err != nil || a.Config().Duration != 3*time.Second {
		t.Fatalf("%v %+v", err, a.Config())
	}
	b, err := greltimeout.New("slow", greltimeout.WithRegistry(reg))
	if err != nil || b.Config().Duration != time.Minute {
		t.Fatalf("%v %+v", err, b.Config())
	}
	c, err := greltimeout.New("x", greltimeout.WithRegistry(reg), greltimeout.WithDuration(time.Millisecond))
	if err != nil || c.Config().Duration != time.Millisecond {
		t.Fatalf("option: %v", err)
	}
	_, err = greltimeout.New("x", greltimeout.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_TIMEOUT_X_DURATION": "-5s"}))))
	if err == nil || !strings.Contains(err.Error(), "GREL_TIMEOUT_X_DURATION (Duration): must be greater than 0") || strings.Contains(err.Error(), "-5s") {
		t.Fatalf("err %v", err)
	}
	if err := a.Reconfigure(greltimeout.Config{}); err == nil {
		t.Fatal("Reconfigure accepted a zero duration")
	}
	if err := a.Reconfigure(greltimeout.Config{Duration: time.Hour}); err != nil || a.Config().Duration != time.Hour {
		t.Fatalf("Reconfigure: %v", err)
	}
	if _, err := greltimeout.NewFromConfig("x", greltimeout.Config{}); err == nil {
		t.Fatal("NewFromConfig accepted a zero duration")
	}
}

func TestModule(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_TIMEOUT_INVENTORY_DURATION": "2s"}))
	var to *greltimeout.Timeout
	app := fxtest.New(t, fx.Supply(reg), greltimeout.Named("inventory"),
		fx.Populate(fx.Annotate(&to, fx.ParamTags(greltimeout.Tag("inventory")))))
	app.RequireStart()
	if to.Config().Duration != 2*time.Second || !slices.Contains(reg.Live(), grelconfig.Key{Kind: "TIMEOUT", Instance: "inventory"}) {
		t.Fatalf("%+v %v", to.Config(), reg.Live())
	}
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_TIMEOUT_INVENTORY_DURATION": "4s"})); err != nil || to.Config().Duration != 4*time.Second {
		t.Fatalf("reload %v", err)
	}
	app.RequireStop()
	if len(reg.Live()) != 0 {
		t.Fatal("still registered")
	}
}

// The Module gives its timeouts the app's meter provider.
func TestModuleMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reader *sdkmetric.ManualReader
		var to *greltimeout.Timeout
		app := fxgreltest.New(t, map[string]string{"GREL_TIMEOUT_INVENTORY_DURATION": "1s"}, greltimeout.Named("inventory"),
			fx.Populate(&reader, fx.Annotate(&to, fx.ParamTags(greltimeout.Tag("inventory")))))
		app.RequireStart()
		defer app.RequireStop()
		if err := to.Execute(context.Background(), waitCtx); !errors.Is(err, greltimeout.ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		m, ok := fxgreltest.FindMetric(fxgreltest.CollectMetrics(t, reader), greltimeout.MetricTimeouts)
		if sum, _ := m.Data.(metricdata.Sum[int64]); !ok || len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 1 {
			t.Fatalf("%s in the app's metrics: %+v", greltimeout.MetricTimeouts, m)
		}
	})
}

// FuzzConfig resolves arbitrary values: no panic, and what resolves is a
// valid config.
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{"2s", "0.5", "-1s", "0", "1e400", "NaN", "9223372036854775807s", "s3cr#t"} {
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, value string, instance bool) {
		name := "GREL_TIMEOUT_DURATION"
		if instance {
			name = "GREL_TIMEOUT_FUZZ_DURATION"
		}
		cfg, err := greltimeout.Spec().ResolveFrom(grelconfig.Map(map[string]string{name: value}), "fuzz")
		if err != nil {
			if strings.ContainsAny(value, "#$%@!") && strings.Contains(err.Error(), value) {
				t.Fatalf("error %q repeats the value", err)
			}
			return
		}
		if cfg.Duration <= 0 {
			t.Fatalf("resolved a non-positive duration %v", cfg.Duration)
		}
	})
}
