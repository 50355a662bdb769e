package grelretry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errTransient = errors.New("transient")

// noEnv is a registry over an empty source, so tests never read the process
// environment.
func noEnv() grelretry.Option {
	return grelretry.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))
}

func mustNew(t *testing.T, opts ...grelretry.Option) *grelretry.Retrier {
	t.Helper()
	r, err := grelretry.New("test", append([]grelretry.Option{noEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// step is one attempt: what it returns, and when it must start (since Do
// was called).
type step struct {
	at  time.Duration
	err error
}

func TestDoSteps(t *testing.T) {
	tests := []struct {
		name    string
		opts    []grelretry.Option
		deadln  time.Duration // 0: none
		steps   []step
		wantErr func(error) bool
		reason  grelretry.StopReason
	}{
		{
			name:    "first success",
			steps:   []step{{0, nil}},
			wantErr: func(err error) bool { return err == nil },
		},
		{
			name:    "constant, success on third",
			opts:    []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Second), grelretry.WithJitter(grelretry.JitterNone)},
			steps:   []step{{0, errTransient}, {time.Second, errTransient}, {2 * time.Second, nil}},
			wantErr: func(err error) bool { return err == nil },
		},
		{
			name: "exponential exhausts max attempts",
			opts: []grelretry.Option{grelretry.WithInitialDelay(100 * time.Millisecond), grelretry.WithJitter(grelretry.JitterNone), grelretry.WithMaxAttempts(4)},
			steps: []step{{0, errTransient}, {100 * time.Millisecond, errTransient}, {300 * time.Millisecond, errTransient},
				{700 * time.Millisecond, io.EOF}},
			wantErr: func(err error) bool { return errors.Is(err, io.EOF) && errors.Is(err, grelretry.ErrExhausted) },
			reason:  grelretry.StopMaxAttempts,
		},
		{
			name:    "not retryable is returned as is",
			opts:    []grelretry.Option{grelretry.WithRetryIf(grelmatch.Is(errTransient))},
			steps:   []step{{0, errTransient}, {time.Duration(float64(100*time.Millisecond) * 0.75), io.EOF}},
			wantErr: func(err error) bool { return err == io.EOF },
		},
		{
			name:    "permanent stops and is unwrapped",
			steps:   []step{{0, grelretry.Permanent(io.EOF)}},
			wantErr: func(err error) bool { return err == io.EOF },
		},
		{
			name: "max elapsed: no attempt would start after it",
			opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(400 * time.Millisecond),
				grelretry.WithJitter(grelretry.JitterNone), grelretry.WithMaxAttempts(0), grelretry.WithMaxElapsed(time.Second)},
			steps:   []step{{0, errTransient}, {400 * time.Millisecond, errTransient}, {800 * time.Millisecond, errTransient}},
			wantErr: func(err error) bool { return errors.Is(err, errTransient) },
			reason:  grelretry.StopMaxElapsed,
		},
		{
			name: "deadline: gives up at once rather than sleep past it",
			opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(400 * time.Millisecond),
				grelretry.WithJitter(grelretry.JitterNone), grelretry.WithMaxAttempts(10)},
			deadln:  time.Second,
			steps:   []step{{0, errTransient}, {400 * time.Millisecond, errTransient}, {800 * time.Millisecond, errTransient}},
			wantErr: func(err error) bool { return errors.Is(err, errTransient) && !errors.Is(err, context.DeadlineExceeded) },
			reason:  grelretry.StopDeadline,
		},
		{
			name: "retry-after longer than the wait is honoured",
			opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(100 * time.Millisecond),
				grelretry.WithJitter(grelretry.JitterNone)},
			steps:   []step{{0, fmt.Errorf("call: %w", retryAfter(3*time.Second))}, {3 * time.Second, retryAfter(time.Millisecond)}, {3*time.Second + 100*time.Millisecond, nil}},
			wantErr: func(err error) bool { return err == nil },
		},
		{
			name: "retry-after past the deadline gives up",
			opts: []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(100 * time.Millisecond),
				grelretry.WithJitter(grelretry.JitterNone)},
			deadln:  2 * time.Second,
			steps:   []step{{0, retryAfter(5 * time.Second)}},
			wantErr: func(err error) bool { return errors.Is(err, grelretry.ErrExhausted) },
			reason:  grelretry.StopDeadline,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustNew(t, append([]grelretry.Option{grelretry.WithRandom(func() float64 { return 0.5 })}, tt.opts...)...)
				ctx := context.Background()
				if tt.deadln > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadln)
					defer cancel()
				}
				begin := time.Now()
				i := 0
				err := r.Do(ctx, func(context.Context) error {
					if i >= len(tt.steps) {
						t.Fatalf("attempt %d not in the table", i+1)
					}
					s := tt.steps[i]
					if got := time.Since(begin); got != s.at {
						t.Errorf("attempt %d at %v, want %v", i+1, got, s.at)
					}
					i++
					return s.err
				})
				if i != len(tt.steps) {
					t.Errorf("%d attempts, want %d", i, len(tt.steps))
				}
				if !tt.wantErr(err) {
					t.Errorf("unexpected error %v", err)
				}
				last := tt.steps[len(tt.steps)-1].at
				if got := time.Since(begin); got != last {
					t.Errorf("Do returned at %v, want right after the last attempt at %v", got, last)
				}
				var re *grelretry.RetryError
				if errors.As(err, &re) {
					if re.Reason != tt.reason || re.Attempts != len(tt.steps) || re.Elapsed != last || re.Name != "test" {
						t.Errorf("RetryError = %+v, want reason %q, %d attempts, elapsed %v", re, tt.reason, len(tt.steps), last)
					}
				} else if tt.reason != "" {
					t.Errorf("error %v is not a *RetryError", err)
				}
			})
		})
	}
}

type retryAfterErr time.Duration

func retryAfter(d time.Duration) error            { return retryAfterErr(d) }
func (e retryAfterErr) Error() string             { return "busy" }
func (e retryAfterErr) RetryAfter() time.Duration { return time.Duration(e) }

// TestWaits checks the waits of every algorithm and jitter mode.
func TestWaits(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		opts   []grelretry.Option
		random float64
		want   []time.Duration
	}{
		{"constant", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(50 * ms)}, 0, []time.Duration{50 * ms, 50 * ms, 50 * ms}},
		{"linear capped", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Linear), grelretry.WithInitialDelay(100 * ms), grelretry.WithMaxDelay(250 * ms)}, 0,
			[]time.Duration{100 * ms, 200 * ms, 250 * ms, 250 * ms}},
		{"exponential factor 3 capped", []grelretry.Option{grelretry.WithInitialDelay(10 * ms), grelretry.WithFactor(3), grelretry.WithMaxDelay(500 * ms)}, 0,
			[]time.Duration{10 * ms, 30 * ms, 90 * ms, 270 * ms, 500 * ms, 500 * ms}},
		{"exponential huge attempt count stays capped", []grelretry.Option{grelretry.WithInitialDelay(time.Hour), grelretry.WithFactor(1000), grelretry.WithMaxDelay(2 * time.Hour)}, 0,
			[]time.Duration{time.Hour, 2 * time.Hour, 2 * time.Hour}},
		{"fibonacci capped", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Fibonacci), grelretry.WithInitialDelay(10 * ms), grelretry.WithMaxDelay(70 * ms)}, 0,
			[]time.Duration{10 * ms, 10 * ms, 20 * ms, 30 * ms, 50 * ms, 70 * ms, 70 * ms}},
		{"random range", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Random), grelretry.WithMinDelay(100 * ms), grelretry.WithMaxDelay(300 * ms)}, 0.25,
			[]time.Duration{150 * ms, 150 * ms}},
		{"full jitter", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(100 * ms), grelretry.WithJitter(grelretry.JitterFull)}, 0.25,
			[]time.Duration{25 * ms, 25 * ms}},
		{"equal jitter", []grelretry.Option{grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(100 * ms), grelretry.WithJitter(grelretry.JitterEqual)}, 0.25,
			[]time.Duration{50*ms + 12500*time.Microsecond, 62500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			opts := append([]grelretry.Option{
				grelretry.WithJitter(grelretry.JitterNone),
				grelretry.WithMaxAttempts(len(tt.want) + 1),
				grelretry.WithRandom(func() float64 { return tt.random }),
				grelretry.WithOnRetry(func(ev grelretry.Event) { got = append(got, ev.Wait) }),
			}, tt.opts...)
			r := mustNew(t, opts...)
			synctest.Test(t, func(t *testing.T) {
				_ = r.Do(context.Background(), func(context.Context) error { return errTransient })
			})
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDoValueRetriesOnResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t,
			grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Second), grelretry.WithJitter(grelretry.JitterNone),
			grelretry.WithMaxAttempts(3),
			grelretry.WithRetryIf(grelmatch.Or(grelmatch.AnyError(), grelmatch.Result(func(code int) bool { return code == 503 }))))
		codes := []int{503, 503, 200}
		i := 0
		v, err := grelretry.DoValue(context.Background(), r, func(context.Context) (int, error) {
			i++
			return codes[i-1], nil
		})
		if v != 200 || err != nil || i != 3 {
			t.Fatalf("got %d, %v after %d attempts", v, err, i)
		}
		// Exhausted on a result: the last result comes back with a RetryError
		// that has no last error.
		v, err = grelretry.DoValue(context.Background(), r, func(context.Context) (int, error) { return 503, nil })
		var re *grelretry.RetryError
		if v != 503 || !errors.As(err, &re) || re.Last != nil || re.Attempts != 3 || !errors.Is(err, grelretry.ErrExhausted) {
			t.Fatalf("got %d, %v", v, err)
		}
		if !strings.Contains(err.Error(), "result still retryable") {
			t.Errorf("message %q", err)
		}
	})
}

func TestCallerCancellation(t *testing.T) {
	t.Run("the caller's cancellation is returned as is and not retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t)
			ctx, cancel := context.WithCancel(context.Background())
			n := 0
			err := r.Do(ctx, func(ctx context.Context) error {
				n++
				cancel()
				return ctx.Err()
			})
			if err != context.Canceled || n != 1 {
				t.Fatalf("err = %v after %d attempts", err, n)
			}
		})
	})
	t.Run("an inner timeout is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t, grelretry.WithMaxAttempts(2))
			n := 0
			err := r.Do(context.Background(), func(context.Context) error { n++; return context.DeadlineExceeded })
			if n != 2 || !errors.Is(err, grelretry.ErrExhausted) {
				t.Fatalf("err = %v after %d attempts", err, n)
			}
		})
	})
	t.Run("cancel during the wait stops at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := mustNew(t, grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Hour))
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			begin := time.Now()
			err := r.Do(ctx, func(context.Context) error { return errTransient })
			var re *grelretry.RetryError
			if !errors.As(err, &re) || re.Reason != grelretry.StopContext || re.Attempts != 1 {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
				t.Errorf("err %v should match both the context error and the last error", err)
			}
			if d := time.Since(begin); d != time.Second {
				t.Errorf("returned after %v", d)
			}
		})
	})
}

func TestHooksAndEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []grelretry.Event
		r := mustNew(t, grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(time.Second), grelretry.WithJitter(grelretry.JitterNone),
			grelretry.WithOnRetry(func(ev grelretry.Event) { events = append(events, ev) }))
		n := 0
		_ = r.Do(context.Background(), func(context.Context) error {
			n++
			if n < 3 {
				return errTransient
			}
			return nil
		})
		want := []grelretry.Event{
			{Name: "test", Attempt: 1, Err: errTransient, Wait: time.Second, Elapsed: 0},
			{Name: "test", Attempt: 2, Err: errTransient, Wait: time.Second, Elapsed: time.Second},
		}
		if fmt.Sprint(events) != fmt.Sprint(want) {
			t.Fatalf("events = %+v, want %+v", events, want)
		}
	})
}

func TestReconfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, grelretry.WithMaxAttempts(2))
		cfg := r.Config()
		cfg.MaxAttempts = 5
		if err := r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		n := 0
		_ = r.Do(context.Background(), func(context.Context) error { n++; return errTransient })
		if n != 5 {
			t.Fatalf("%d attempts after Reconfigure, want 5", n)
		}
		cfg.MaxDelay = cfg.InitialDelay - 1
		err := r.Reconfigure(cfg)
		if err == nil || !errors.Is(err, grelconfig.ErrInvalid) || !strings.Contains(err.Error(), "MaxDelay must be at least InitialDelay") {
			t.Fatalf("Reconfigure = %v", err)
		}
		if r.Config().MaxAttempts != 5 {
			t.Fatal("a refused Reconfigure changed the config")
		}
	})
}

func TestReloadFromRegistry(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RETRY_PAYMENTS_MAX_ATTEMPTS": "4"}))
	r, err := grelretry.New("payments", grelretry.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if r.Config().MaxAttempts != 4 {
		t.Fatalf("MaxAttempts = %d", r.Config().MaxAttempts)
	}
	unregister := reg.Register(r)
	defer unregister()
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_RETRY_MAX_ATTEMPTS": "7"})); err != nil {
		t.Fatal(err)
	}
	if r.Config().MaxAttempts != 7 {
		t.Fatalf("after reload MaxAttempts = %d", r.Config().MaxAttempts)
	}
	err = reg.Reload(grelconfig.Map(map[string]string{"GREL_RETRY_MAX_ATTEMPTS": "-3"}))
	if err == nil || r.Config().MaxAttempts != 7 {
		t.Fatalf("bad reload: %v, MaxAttempts %d", err, r.Config().MaxAttempts)
	}
}

func TestFirstSuccessAllocatesNothing(t *testing.T) {
	r := mustNew(t)
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(200, func() { _, _ = grelretry.DoValue(ctx, r, fn) }); n != 0 {
		t.Fatalf("DoValue first success: %v allocs, want 0", n)
	}
	do := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(200, func() { _ = r.Do(ctx, do) }); n != 0 {
		t.Fatalf("Do first success: %v allocs, want 0", n)
	}
}

func TestConcurrentDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, grelretry.WithMaxAttempts(3))
		done := make(chan int, 8)
		for range 8 {
			go func() {
				n := 0
				_ = r.Do(context.Background(), func(context.Context) error { n++; return errTransient })
				done <- n
			}()
		}
		for range 8 {
			if n := <-done; n != 3 {
				t.Errorf("a call made %d attempts, want its own 3", n)
			}
		}
	})
}

func BenchmarkDoValueFirstSuccess(b *testing.B) {
	r, _ := grelretry.New("bench", noEnv())
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = grelretry.DoValue(ctx, r, fn)
	}
}

// MaxElapsed and Elapsed count from the start of the first attempt, so a
// slow first attempt uses up the budget like any other.
func TestElapsedFromTheFirstAttempt(t *testing.T) {
	tests := []struct {
		name     string
		first    time.Duration // how long the first attempt takes
		starts   string
		attempts int
		elapsed  time.Duration
	}{
		// 0.5s + 0.4s wait: the second attempt starts at 0.9s; a third
		// would start at 1.3s, past MaxElapsed.
		{name: "slow first attempt", first: 500 * time.Millisecond, starts: "[0s 900ms]", attempts: 2, elapsed: 900 * time.Millisecond},
		// A first attempt longer than MaxElapsed is the only one.
		{name: "first attempt past MaxElapsed", first: 5 * time.Second, starts: "[0s]", attempts: 1, elapsed: 5 * time.Second},
		{name: "instant attempts", starts: "[0s 400ms 800ms]", attempts: 3, elapsed: 800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var events []grelretry.Event
				r := mustNew(t, grelretry.WithAlgorithm(grelretry.Constant), grelretry.WithDelay(400*time.Millisecond),
					grelretry.WithJitter(grelretry.JitterNone), grelretry.WithMaxAttempts(0), grelretry.WithMaxElapsed(time.Second),
					grelretry.WithOnRetry(func(ev grelretry.Event) { events = append(events, ev) }))
				begin := time.Now()
				var starts []time.Duration
				err := r.Do(context.Background(), func(context.Context) error {
					starts = append(starts, time.Since(begin))
					if len(starts) == 1 {
						time.Sleep(tt.first)
					}
					return errTransient
				})
				var re *grelretry.RetryError
				if !errors.As(err, &re) || re.Reason != grelretry.StopMaxElapsed || re.Elapsed != tt.elapsed || re.Attempts != tt.attempts {
					t.Fatalf("err %v (%+v), want StopMaxElapsed after %d attempts and %v", err, re, tt.attempts, tt.elapsed)
				}
				if fmt.Sprint(starts) != tt.starts {
					t.Fatalf("attempts at %v, want %s", starts, tt.starts)
				}
				if len(events) > 0 && events[0].Elapsed != tt.first {
					t.Errorf("first retry event: Elapsed %v, want %v", events[0].Elapsed, tt.first)
				}
			})
		})
	}
}
