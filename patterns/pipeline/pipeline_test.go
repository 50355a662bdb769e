package grelpipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelpipeline "github.com/grelmicro/grelmicro-go/patterns/pipeline"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("down")

func retrier(t *testing.T, opts ...grelretry.Option) *grelretry.Retrier {
	t.Helper()
	r, err := grelretry.NewFromConfig("r", grelretry.DefaultConfig(), append([]grelretry.Option{
		grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Second), grelretry.WithJitter(grelretry.JitterNone)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func breaker(t *testing.T, opts ...grelbreaker.Option) *grelbreaker.Breaker {
	t.Helper()
	b, err := grelbreaker.NewFromConfig("b", nil, grelbreaker.DefaultConfig(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func timeout(t *testing.T, d time.Duration) *greltimeout.Timeout {
	t.Helper()
	to, err := greltimeout.NewFromConfig("t", greltimeout.Config{Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// attempts records when the function ran.
type attempts struct {
	begin time.Time
	at    []time.Duration
}

func (a *attempts) String() string { return fmt.Sprint(a.at) }

func TestDefaultOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := breaker(t, grelbreaker.WithFailureThreshold(2), grelbreaker.WithOpenDuration(10*time.Second))
		p, err := grelpipeline.New[string](
			// given in another order than they run
			grelpipeline.WithTimeout(timeout(t, 500*time.Millisecond)),
			grelpipeline.WithFallback(grelfallback.Value("stale")),
			grelpipeline.WithBreaker(b),
			grelpipeline.WithRetry(retrier(t, grelretry.WithMaxAttempts(5), grelretry.WithMaxElapsed(8*time.Second))),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(p.Order()); got != "[fallback retry breaker timeout]" {
			t.Fatalf("order %s", got)
		}
		a := &attempts{begin: time.Now()}
		v, err := p.Execute(context.Background(), func(ctx context.Context) (string, error) {
			a.at = append(a.at, time.Since(a.begin))
			<-ctx.Done() // a hung dependency: each attempt times out
			return "", ctx.Err()
		})
		// Attempt 1 at 0 times out at 0.5s (a breaker failure), attempt 2
		// at 1.5s times out at 2s and trips the breaker. Attempt 3 at 3s
		// is refused by the breaker without running, with 9s to wait:
		// past MaxElapsed, so the retrier gives up and the fallback answers.
		if got := a.String(); got != "[0s 1.5s]" {
			t.Fatalf("attempts at %s", got)
		}
		if v != "stale" || err != nil {
			t.Fatalf("got %q, %v", v, err)
		}
		if b.State() != grelbreaker.StateOpen {
			t.Fatalf("breaker %s", b.State())
		}
		if d := time.Since(a.begin); d != 3*time.Second {
			t.Fatalf("returned after %v", d)
		}
	})
}

func TestRetryHonoursTheBreakersOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := breaker(t, grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(5*time.Second))
		p, err := grelpipeline.New[int](grelpipeline.WithRetry(retrier(t, grelretry.WithMaxAttempts(4))), grelpipeline.WithBreaker(b))
		if err != nil {
			t.Fatal(err)
		}
		a := &attempts{begin: time.Now()}
		n := 0
		v, err := p.Execute(context.Background(), func(context.Context) (int, error) {
			a.at = append(a.at, time.Since(a.begin))
			n++
			if n == 1 {
				return 0, errDown
			}
			return 42, nil
		})
		// The failure at 0 opens the breaker for 5s; attempt 2 at 1s is
		// refused and carries 4s; the retrier waits them; the trial at 5s
		// succeeds.
		if v != 42 || err != nil || a.String() != "[0s 5s]" {
			t.Fatalf("got %d, %v, attempts %s", v, err, a)
		}
	})
}

func TestExplicitOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The timeout outside the retry bounds the whole series.
		p, err := grelpipeline.New[int](
			grelpipeline.WithRetry(retrier(t, grelretry.WithMaxAttempts(10))),
			grelpipeline.WithTimeout(timeout(t, 2500*time.Millisecond)),
			grelpipeline.WithOrder(grelpipeline.StageTimeout, grelpipeline.StageRetry),
		)
		if err != nil {
			t.Fatal(err)
		}
		a := &attempts{begin: time.Now()}
		_, err = p.Execute(context.Background(), func(context.Context) (int, error) {
			a.at = append(a.at, time.Since(a.begin))
			return 0, errDown
		})
		var re *grelretry.RetryError
		if a.String() != "[0s 1s 2s]" || !errors.As(err, &re) || re.Reason != grelretry.StopDeadline {
			t.Fatalf("attempts %s, err %v", a, err)
		}
	})
}

func TestBulkheadInPipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh, _ := grelbulkhead.NewFromConfig("bh", grelbulkhead.Config{MaxConcurrent: 1})
		b := breaker(t, grelbreaker.WithFailureThreshold(1))
		p, err := grelpipeline.New[struct{}](grelpipeline.WithBulkhead(bh), grelpipeline.WithBreaker(b))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		go func() { _ = p.Do(context.Background(), func(context.Context) error { <-release; return nil }) }()
		synctest.Wait()
		err = p.Do(context.Background(), func(context.Context) error { t.Fatal("ran"); return nil })
		if !errors.Is(err, grelbulkhead.ErrBulkheadFull) || b.State() != grelbreaker.StateOpen {
			t.Fatalf("err %v, breaker %s", err, b.State())
		}
		close(release)
	})
}

func TestNoStages(t *testing.T) {
	p, err := grelpipeline.New[int]()
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Execute(context.Background(), func(context.Context) (int, error) { return 3, errDown })
	if v != 3 || err != errDown || len(p.Order()) != 0 {
		t.Fatal(v, err)
	}
}

func TestInvalid(t *testing.T) {
	r := retrier(t)
	b := breaker(t)
	tests := []struct {
		name string
		opts []grelpipeline.Option
		want string
	}{
		{"fallback of another type", []grelpipeline.Option{grelpipeline.WithFallback(grelfallback.Value("x"))}, "the fallback returns string, the pipeline int"},
		{"a stage twice", []grelpipeline.Option{grelpipeline.WithRetry(r), grelpipeline.WithOrder(grelpipeline.StageRetry, grelpipeline.StageRetry)}, "stage retry appears twice"},
		{"a stage left out", []grelpipeline.Option{grelpipeline.WithRetry(r), grelpipeline.WithBreaker(b), grelpipeline.WithOrder(grelpipeline.StageRetry)}, "the order leaves out breaker"},
		{"a stage it does not have", []grelpipeline.Option{grelpipeline.WithRetry(r), grelpipeline.WithOrder(grelpipeline.StageRetry, grelpipeline.StageTimeout)}, "names timeout, which the pipeline does not have"},
		{"unknown stage", []grelpipeline.Option{grelpipeline.WithOrder(grelpipeline.Stage(9))}, "unknown stage Stage(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := grelpipeline.New[int](tt.opts...)
			if err == nil || !errors.Is(err, grelpipeline.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "grelpipeline: ") {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNamed(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RETRY_CHECKOUT_MAX_ATTEMPTS": "2"}))
	var p *grelpipeline.Pipeline[int]
	app := fxtest.New(t,
		fx.Supply(reg),
		grelbreaker.Module,
		grelretry.Named("checkout", grelretry.WithInitialDelay(0)),
		grelbreaker.Named("checkout"),
		greltimeout.Named("checkout"),
		grelpipeline.Named[int]("checkout", grelpipeline.Uses{Retry: "checkout", Breaker: "checkout", Timeout: "checkout"},
			grelpipeline.WithFallback(grelfallback.Value(-1))),
		fx.Populate(fx.Annotate(&p, fx.ParamTags(grelpipeline.Tag("checkout")))),
	)
	app.RequireStart()
	defer app.RequireStop()
	if got := fmt.Sprint(p.Order()); got != "[fallback retry breaker timeout]" {
		t.Fatalf("order %s", got)
	}
	n := 0
	v, err := p.Execute(context.Background(), func(context.Context) (int, error) { n++; return 0, errDown })
	if v != -1 || err != nil || n != 2 {
		t.Fatalf("got %d, %v after %d attempts", v, err, n)
	}
	// A name nobody provides fails fx.New.
	bad := fx.New(fx.NopLogger, grelpipeline.Named[int]("x", grelpipeline.Uses{Retry: "missing"}), fx.Invoke(fx.Annotate(func(*grelpipeline.Pipeline[int]) {}, fx.ParamTags(grelpipeline.Tag("x")))))
	if bad.Err() == nil {
		t.Fatal("a missing retrier did not fail fx.New")
	}
}
