package grelbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("down")

func noEnv() grelbreaker.Option {
	return grelbreaker.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil)))
}

func mustNew(t *testing.T, backend grelbreaker.Backend, opts ...grelbreaker.Option) *grelbreaker.Breaker {
	t.Helper()
	b, err := grelbreaker.New("test", backend, append([]grelbreaker.Option{noEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder collects the events a breaker announces.
type recorder struct {
	mu     sync.Mutex
	events []grelbreaker.Event
}

func (r *recorder) listen(ev grelbreaker.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) transitions() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, e := range r.events {
		switch {
		case e.Initial:
			parts = append(parts, "start:"+e.To.String())
		case e.Manual:
			parts = append(parts, e.From.String()+">"+e.To.String()+"(manual)")
		default:
			parts = append(parts, e.From.String()+">"+e.To.String())
		}
	}
	return strings.Join(parts, " ")
}

// bstep is one operation on a breaker and what must hold after it.
type bstep struct {
	do string // ok, fail, cancel, inner-timeout, slow-ok, wait, open, close, force
	// wait for "wait"
	wait time.Duration
	// ran: whether the function ran (calls only)
	ran bool
	// refused: whether the call was refused with an *OpenError
	refused bool
	state   grelbreaker.State
}

func (s bstep) String() string { return s.do }

func play(t *testing.T, b *grelbreaker.Breaker, steps []bstep) {
	t.Helper()
	for i, s := range steps {
		ran := false
		var err error
		ctx := context.Background()
		switch s.do {
		case "wait":
			time.Sleep(s.wait)
		case "open":
			err = b.Open(ctx)
		case "close":
			err = b.Close(ctx)
		case "force":
			err = b.ForceOpen(ctx)
		default:
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			err = b.Execute(ctx, func(ctx context.Context) error {
				ran = true
				switch s.do {
				case "ok":
					return nil
				case "slow-ok":
					time.Sleep(2 * time.Second)
					return nil
				case "fail":
					return errDown
				case "cancel":
					cancel()
					return ctx.Err()
				case "inner-timeout":
					ictx, icancel := context.WithTimeout(ctx, time.Millisecond)
					defer icancel()
					<-ictx.Done()
					return ictx.Err()
				}
				panic("unknown step " + s.do)
			})
			cancel()
			if ran != s.ran {
				t.Fatalf("step %d (%s): ran = %v, want %v", i+1, s, ran, s.ran)
			}
			var oe *grelbreaker.OpenError
			if refused := errors.As(err, &oe); refused != s.refused {
				t.Fatalf("step %d (%s): err = %v, refused want %v", i+1, s, err, s.refused)
			}
			if s.refused && !errors.Is(err, grelbreaker.ErrOpen) {
				t.Fatalf("step %d: %v is not ErrOpen", i+1, err)
			}
			err = nil
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i+1, s, err)
		}
		if got := b.State(); got != s.state {
			t.Fatalf("step %d (%s): state %s, want %s (counts %+v)", i+1, s, got, s.state, b.Counts())
		}
	}
}

func calls(do string, n int, st grelbreaker.State) []bstep {
	out := make([]bstep, n)
	for i := range out {
		out[i] = bstep{do: do, ran: true, state: st}
	}
	return out
}

var (
	closed   = grelbreaker.StateClosed
	open     = grelbreaker.StateOpen
	halfOpen = grelbreaker.StateHalfOpen
	forced   = grelbreaker.StateForcedOpen
)

func TestBreakerSteps(t *testing.T) {
	refused := func(st grelbreaker.State) bstep { return bstep{do: "ok", refused: true, state: st} }
	tests := []struct {
		name   string
		opts   []grelbreaker.Option
		steps  []bstep
		events string
	}{
		{
			name:   "trips after the threshold, refuses, half-opens, closes",
			opts:   []grelbreaker.Option{grelbreaker.WithFailureThreshold(3), grelbreaker.WithOpenDuration(10 * time.Second)},
			steps:  slices.Concat(calls("fail", 2, closed), calls("fail", 1, open), []bstep{refused(open), {do: "wait", wait: 10 * time.Second, state: halfOpen}}, calls("ok", 1, closed)),
			events: "start:closed closed>open open>half-open half-open>closed",
		},
		{
			name: "caller cancellation is neutral, an inner timeout is a failure",
			opts: []grelbreaker.Option{grelbreaker.WithFailureThreshold(2)},
			steps: slices.Concat(calls("fail", 1, closed), calls("cancel", 3, closed), // the run of failures goes on
				calls("inner-timeout", 1, open)),
			events: "start:closed closed>open",
		},
		{
			name:   "a failed trial opens again",
			opts:   []grelbreaker.Option{grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(time.Second)},
			steps:  slices.Concat(calls("fail", 1, open), []bstep{{do: "wait", wait: time.Second, state: halfOpen}}, calls("fail", 1, open), []bstep{refused(open)}),
			events: "start:closed closed>open open>half-open half-open>open",
		},
		{
			name: "a cancelled trial frees its slot",
			opts: []grelbreaker.Option{grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(time.Second)},
			steps: slices.Concat(calls("fail", 1, open), []bstep{{do: "wait", wait: time.Second, state: halfOpen}},
				calls("cancel", 1, halfOpen), calls("ok", 1, closed)),
			events: "start:closed closed>open open>half-open half-open>closed",
		},
		{
			name: "manual open, force and close",
			opts: []grelbreaker.Option{grelbreaker.WithOpenDuration(time.Second)},
			steps: slices.Concat([]bstep{{do: "force", state: forced}, refused(forced), {do: "wait", wait: time.Hour, state: forced}, refused(forced),
				{do: "close", state: closed}}, calls("ok", 1, closed),
				[]bstep{{do: "open", state: open}, refused(open), {do: "wait", wait: time.Second, state: halfOpen}}, calls("ok", 1, closed)),
			events: "start:closed closed>forced-open(manual) forced-open>closed(manual) closed>open(manual) open>half-open half-open>closed",
		},
		{
			name: "the open duration grows and is capped",
			opts: []grelbreaker.Option{grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(time.Second),
				grelbreaker.WithOpenDurationFactor(3), grelbreaker.WithMaxOpenDuration(5 * time.Second)},
			steps: slices.Concat(calls("fail", 1, open),
				[]bstep{{do: "wait", wait: time.Second, state: halfOpen}}, calls("fail", 1, open),
				[]bstep{{do: "wait", wait: 2999 * time.Millisecond, state: open}, {do: "wait", wait: time.Millisecond, state: halfOpen}}, calls("fail", 1, open),
				[]bstep{{do: "wait", wait: 4999 * time.Millisecond, state: open}, {do: "wait", wait: time.Millisecond, state: halfOpen}}, calls("ok", 1, closed),
				calls("fail", 1, open), []bstep{{do: "wait", wait: time.Second, state: halfOpen}}),
			events: "start:closed closed>open open>half-open half-open>open open>half-open half-open>open open>half-open half-open>closed closed>open open>half-open",
		},
		{
			name: "slow calls trip a window",
			opts: []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.CountWindow), grelbreaker.WithWindowSize(4), grelbreaker.WithMinCalls(4),
				grelbreaker.WithSlowCallDuration(time.Second), grelbreaker.WithSlowCallRate(50)},
			steps:  slices.Concat(calls("ok", 2, closed), calls("slow-ok", 1, closed), calls("slow-ok", 1, open)),
			events: "start:closed closed>open",
		},
		{
			name: "time window",
			opts: []grelbreaker.Option{grelbreaker.WithAlgorithm(grelbreaker.TimeWindow), grelbreaker.WithWindow(10 * time.Second),
				grelbreaker.WithBuckets(10), grelbreaker.WithMinCalls(4), grelbreaker.WithFailureRate(50)},
			steps: slices.Concat(calls("fail", 3, closed), []bstep{{do: "wait", wait: 11 * time.Second, state: closed}},
				calls("ok", 2, closed), calls("fail", 1, closed), calls("fail", 1, open)),
			events: "start:closed closed>open",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				b := mustNew(t, nil, append(tt.opts, grelbreaker.WithOnStateChange(rec.listen))...)
				if err := b.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				play(t, b, tt.steps)
				if got := rec.transitions(); got != tt.events {
					t.Errorf("events:\n got %s\nwant %s", got, tt.events)
				}
			})
		})
	}
}

func TestListenersOutsideLocksWithCountsFromBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *grelbreaker.Breaker
		var got []grelbreaker.Event
		var stateInside []grelbreaker.State
		b = mustNew(t, nil, grelbreaker.WithFailureThreshold(2), grelbreaker.WithOpenDuration(time.Second),
			grelbreaker.WithOnStateChange(func(ev grelbreaker.Event) {
				got = append(got, ev)
				// Calling the breaker from a listener must not deadlock
				// (gobreaker #37), and sees the new state.
				stateInside = append(stateInside, b.State())
				_ = b.Counts()
				if ev.To == grelbreaker.StateOpen && len(got) == 2 {
					// A call from the listener: refused, no recursion.
					if err := b.Execute(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, grelbreaker.ErrOpen) {
						t.Errorf("call from the listener: %v", err)
					}
				}
			}))
		ctx := context.Background()
		_ = b.Start(ctx)
		_ = b.Execute(ctx, func(context.Context) error { return nil })
		_ = b.Execute(ctx, func(context.Context) error { return errDown })
		_ = b.Execute(ctx, func(context.Context) error { return errDown })
		if len(got) != 2 {
			t.Fatalf("events %+v", got)
		}
		if !got[0].Initial || got[0].To != closed || got[0].Name != "test" {
			t.Errorf("initial event %+v", got[0])
		}
		tr := got[1]
		if tr.From != closed || tr.To != open || tr.Err != errDown || tr.Counts.Failures != 2 || tr.Counts.Successes != 1 || tr.Counts.ConsecutiveFailures != 2 {
			t.Errorf("transition event %+v", tr)
		}
		if len(stateInside) != 2 || stateInside[0] != closed || stateInside[1] != open {
			t.Errorf("states seen inside the listeners: %v", stateInside)
		}
		if c := b.Counts(); c.Failures != 0 || c.Successes != 0 {
			t.Errorf("counts after the transition %+v", c)
		}
	})
}

func TestStateChangesLoggedAtInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		b := mustNew(t, nil, grelbreaker.WithLogger(zap.New(core)), grelbreaker.WithFailureThreshold(1))
		_ = b.Start(context.Background())
		_ = b.Execute(context.Background(), func(context.Context) error { return errDown })
		entries := logs.All()
		if len(entries) != 2 {
			t.Fatalf("%d lines: %v", len(entries), entries)
		}
		e := entries[1]
		f := e.ContextMap()
		if e.Level != zapcore.InfoLevel || e.Message != "breaker state changed" || f["pattern"] != "breaker" || f["name"] != "test" ||
			f["state"] != "open" || f["from"] != "closed" || f["error"] != "down" || f["backend"] != "memory" {
			t.Fatalf("line %s %v", e.Message, f)
		}
		if f := entries[0].ContextMap(); entries[0].Message != "breaker state" || f["state"] != "closed" {
			t.Fatalf("start line %s %v", entries[0].Message, f)
		}
	})
}

func TestClassification(t *testing.T) {
	errNotFound := errors.New("not found")
	tests := []struct {
		name     string
		opts     []grelbreaker.Option
		err      error
		canceled bool
		want     string // success, failure, ignored
	}{
		{name: "nil is a success", want: "success"},
		{name: "any error is a failure", err: errDown, want: "failure"},
		{name: "caller cancellation is ignored", err: context.Canceled, canceled: true, want: "ignored"},
		{name: "a canceled error while the caller is live is a failure", err: context.Canceled, want: "failure"},
		{name: "excluded error is a success", opts: []grelbreaker.Option{grelbreaker.WithFailureIf(grelmatch.Not(grelmatch.Is(errNotFound)))},
			err: fmt.Errorf("get: %w", errNotFound), want: "success"},
		{name: "ignored error", opts: []grelbreaker.Option{grelbreaker.WithIgnoreIf(grelmatch.Or(grelmatch.CallerCanceled(), grelmatch.Is(errNotFound)))},
			err: errNotFound, want: "ignored"},
		{name: "cancellation counted when asked", opts: []grelbreaker.Option{grelbreaker.WithIgnoreIf(grelmatch.Never())},
			err: context.Canceled, canceled: true, want: "failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustNew(t, nil, tt.opts...)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.canceled {
				cancel()
			}
			defer cancel()
			_ = b.Execute(ctx, func(context.Context) error { return tt.err })
			c := b.Counts()
			got := "ignored"
			switch {
			case c.Successes == 1 && c.Failures == 0:
				got = "success"
			case c.Failures == 1 && c.Successes == 0:
				got = "failure"
			case c.Failures != 0 || c.Successes != 0:
				got = fmt.Sprintf("%+v", c)
			}
			if got != tt.want {
				t.Fatalf("counted as %s, want %s", got, tt.want)
			}
		})
	}
}

func TestExecuteValueResultFailures(t *testing.T) {
	b := mustNew(t, nil, grelbreaker.WithFailureThreshold(2),
		grelbreaker.WithFailureIf(grelmatch.Or(grelmatch.AnyError(), grelmatch.Result(func(code int) bool { return code >= 500 }))))
	ctx := context.Background()
	for _, code := range []int{200, 503, 502} {
		v, err := grelbreaker.ExecuteValue(ctx, b, func(context.Context) (int, error) { return code, nil })
		if v != code || err != nil {
			t.Fatalf("got %d, %v", v, err)
		}
	}
	if b.State() != open {
		t.Fatalf("two 5xx results did not trip: %s %+v", b.State(), b.Counts())
	}
	v, err := grelbreaker.ExecuteValue(ctx, b, func(context.Context) (int, error) { t.Fatal("ran while open"); return 0, nil })
	if v != 0 || !errors.Is(err, grelbreaker.ErrOpen) {
		t.Fatalf("got %d, %v", v, err)
	}
}

func TestOpenError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, nil, grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(30*time.Second))
		_ = b.Execute(context.Background(), func(context.Context) error { return errDown })
		time.Sleep(10 * time.Second)
		err := b.Execute(context.Background(), func(context.Context) error { return nil })
		var oe *grelbreaker.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("err %v", err)
		}
		if oe.State != open || oe.Name != "test" || oe.RetryAfter() != 20*time.Second || !oe.Until.Equal(time.Now().Add(20*time.Second)) {
			t.Fatalf("OpenError %+v, retry after %v", oe, oe.RetryAfter())
		}
		if msg := err.Error(); msg != "grelbreaker: test: open, admits calls again in 20s" {
			t.Fatalf("message %q", msg)
		}
		// grelretry honours it through its RetryAfter method.
		var ra interface{ RetryAfter() time.Duration }
		if !errors.As(fmt.Errorf("call: %w", err), &ra) || ra.RetryAfter() != 20*time.Second {
			t.Fatal("OpenError does not carry RetryAfter through a wrap")
		}
	})
}

func TestAllowTwoStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, nil, grelbreaker.WithFailureThreshold(1), grelbreaker.WithOpenDuration(time.Second), grelbreaker.WithSuccessThreshold(2))
		ctx := context.Background()
		done, err := b.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done(errDown)
		done(nil) // ignored: done counts once
		if b.State() != open {
			t.Fatalf("state %s", b.State())
		}
		if _, err := b.Allow(ctx); !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("Allow while open: %v", err)
		}
		time.Sleep(time.Second)
		done, err = b.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Allow(ctx); !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("second trial admitted: %v", err)
		}
		done(nil)
		if b.State() != halfOpen {
			t.Fatalf("state %s after one of two trial successes", b.State())
		}
		// A done that is never called holds its slot until the open
		// duration passes.
		if _, err := b.Allow(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Allow(ctx); !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("slot not held: %v", err)
		}
		time.Sleep(time.Second)
		done, err = b.Allow(ctx)
		if err != nil {
			t.Fatalf("lost slot not given back: %v", err)
		}
		done(nil)
		done2, _ := b.Allow(ctx)
		done2(nil)
		if b.State() != closed {
			t.Fatalf("state %s", b.State())
		}
	})
}

func TestReconfigureKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, nil, grelbreaker.WithFailureThreshold(3), grelbreaker.WithOpenDuration(time.Minute))
		ctx := context.Background()
		fail := func() { _ = b.Execute(ctx, func(context.Context) error { return errDown }) }
		fail()
		fail()
		cfg := b.Config()
		cfg.FailureThreshold = 2
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		if c := b.Counts(); c.ConsecutiveFailures != 2 {
			t.Fatalf("Reconfigure lost the counts: %+v", c)
		}
		fail()
		if b.State() != open {
			t.Fatalf("the new threshold did not apply at the next call: %s", b.State())
		}
		cfg.OpenDuration = time.Second
		cfg.Algorithm = grelbreaker.CountWindow
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		if b.State() != open {
			t.Fatal("Reconfigure lost the state")
		}
		time.Sleep(time.Second)
		if b.State() != open {
			t.Fatal("the open deadline is the one set when it opened")
		}
		cfg.WindowSize = 0
		if err := b.Reconfigure(cfg); err == nil || !strings.Contains(err.Error(), "WindowSize") {
			t.Fatalf("bad Reconfigure: %v", err)
		}
	})
}

func TestSharedMemoryKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := grelbreaker.NewMemory()
		recA, recB := &recorder{}, &recorder{}
		a := mustNew(t, mem, grelbreaker.WithFailureThreshold(1), grelbreaker.WithOnStateChange(recA.listen))
		b := mustNew(t, mem, grelbreaker.WithFailureThreshold(1), grelbreaker.WithOnStateChange(recB.listen))
		other := mustNew(t, mem, grelbreaker.WithKey("other"))
		_ = a.Execute(context.Background(), func(context.Context) error { return errDown })
		if b.State() != open || other.State() != closed {
			t.Fatalf("b %s, other %s", b.State(), other.State())
		}
		err := b.Execute(context.Background(), func(context.Context) error { return nil })
		if !errors.Is(err, grelbreaker.ErrOpen) {
			t.Fatalf("b: %v", err)
		}
		if recA.transitions() != "closed>open" || recB.transitions() != "closed>open" {
			t.Fatalf("a saw %q, b saw %q", recA.transitions(), recB.transitions())
		}
		if recA.events[0].Err != errDown || recB.events[0].Err != nil {
			t.Fatalf("cause: a %v, b %v", recA.events[0].Err, recB.events[0].Err)
		}
	})
}

// A breaker that catches up announces each transition of the shared key
// once: a new half-open generation (lost trial slots given back) is not a
// transition.
func TestSharedMemoryKeyCatchUpOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := grelbreaker.NewMemory()
		opts := []grelbreaker.Option{grelbreaker.WithFailureThreshold(1), grelbreaker.WithHalfOpenMaxCalls(1), grelbreaker.WithOpenDuration(time.Second)}
		rec := &recorder{}
		a := mustNew(t, mem, opts...)
		c := mustNew(t, mem, append(opts, grelbreaker.WithOnStateChange(rec.listen))...)
		ctx := context.Background()
		_ = a.Execute(ctx, fail)
		_ = c.Execute(ctx, ok) // refused; catches up on the trip
		time.Sleep(time.Second)
		if _, err := a.Allow(ctx); err != nil { // the trial's done is never called
			t.Fatal(err)
		}
		_ = c.Execute(ctx, ok) // refused; catches up on half-open
		time.Sleep(time.Second)
		if _, err := a.Allow(ctx); err != nil { // the lost slot is given back
			t.Fatal(err)
		}
		_ = c.Execute(ctx, ok) // refused: a's new trial holds the slot
		if got, want := rec.transitions(), "closed>open open>half-open"; got != want {
			t.Errorf("c saw %q, want %q", got, want)
		}
	})
}

func TestConcurrentStress(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	// Delivered in transition order, each event starts where the one
	// before it ended.
	var chain struct {
		mu     sync.Mutex
		to     grelbreaker.State
		n      int
		broken string
		listen func(grelbreaker.Event)
	}
	chain.listen = func(ev grelbreaker.Event) {
		chain.mu.Lock()
		defer chain.mu.Unlock()
		if ev.From != chain.to && chain.broken == "" {
			chain.broken = fmt.Sprintf("event %d is %s>%s after an event that ended in %s", chain.n, ev.From, ev.To, chain.to)
		}
		chain.to = ev.To
		chain.n++
	}
	b := mustNew(t, nil, grelbreaker.WithAlgorithm(grelbreaker.CountWindow), grelbreaker.WithWindowSize(20), grelbreaker.WithMinCalls(5),
		grelbreaker.WithOpenDuration(time.Millisecond), grelbreaker.WithHalfOpenMaxCalls(2), grelbreaker.WithSuccessThreshold(2),
		grelbreaker.WithMeterProvider(mp), grelbreaker.WithOnStateChange(chain.listen))
	defer func() { _ = b.Stop(context.Background()) }()
	var ran, ok, failed, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				switch {
				case g == 0 && i%10 == 5:
					_ = b.Open(context.Background()) // manual transitions race too
				case g == 1 && i%10 == 0:
					_ = b.Close(context.Background())
				}
				err := b.Execute(context.Background(), func(context.Context) error {
					ran.Add(1)
					if (i+g)%3 == 0 {
						return errDown
					}
					return nil
				})
				switch {
				case err == nil:
					ok.Add(1)
				case err == errDown:
					failed.Add(1)
				case errors.Is(err, grelbreaker.ErrOpen):
					refused.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		})
	}
	wg.Wait()
	if ran.Load() != ok.Load()+failed.Load() || ran.Load()+refused.Load() != 4000 {
		t.Fatalf("ran %d, ok %d, failed %d, refused %d", ran.Load(), ok.Load(), failed.Load(), refused.Load())
	}
	chain.mu.Lock()
	if chain.broken != "" || chain.n < 2 {
		t.Errorf("%d events: %s", chain.n, chain.broken)
	}
	chain.mu.Unlock()
	// The striped counters lost nothing.
	got := callsByOutcome(t, reader)
	if got["success"] != ok.Load() || got["failure"] != failed.Load() || got["rejected"] != refused.Load() {
		t.Fatalf("metrics %v; calls ok %d, failed %d, refused %d", got, ok.Load(), failed.Load(), refused.Load())
	}
}

func TestExecuteAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	for _, algo := range []grelbreaker.Algorithm{grelbreaker.ConsecutiveFailures, grelbreaker.CountWindow, grelbreaker.TimeWindow} {
		b := mustNew(t, nil, grelbreaker.WithAlgorithm(algo))
		if n := testing.AllocsPerRun(500, func() { _ = b.Execute(ctx, fn) }); n != 0 {
			t.Errorf("%s: Execute allocates %v times per call", algo, n)
		}
		v := func(context.Context) (int, error) { return 1, nil }
		if n := testing.AllocsPerRun(500, func() { _, _ = grelbreaker.ExecuteValue(ctx, b, v) }); n != 0 {
			t.Errorf("%s: ExecuteValue allocates %v times per call", algo, n)
		}
	}
}

// blockingSpan is a recording span whose state-change event blocks until
// released: it holds the goroutine that made a transition between the
// transition and its announcement.
type blockingSpan struct {
	noop.Span
	entered, release chan struct{}
	once             sync.Once
}

func (s *blockingSpan) IsRecording() bool { return true }

func (s *blockingSpan) AddEvent(name string, _ ...trace.EventOption) {
	if name == "grel.breaker.state_change" {
		s.once.Do(func() {
			close(s.entered)
			<-s.release
		})
	}
}

// Listeners get the transitions in the order they happened, even when the
// goroutine that made the first one is slower to announce it than the one
// that made the second.
func TestListenersInTransitionOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend func() grelbreaker.Backend
	}{
		{"memory", func() grelbreaker.Backend { return nil }},
		{"shared", func() grelbreaker.Backend { return newStore() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			b := mustNew(t, tc.backend(), grelbreaker.WithFailureThreshold(1), grelbreaker.WithOnStateChange(rec.listen))
			sp := &blockingSpan{entered: make(chan struct{}), release: make(chan struct{})}
			tripped := make(chan struct{})
			go func() {
				defer close(tripped)
				_ = b.Execute(trace.ContextWithSpan(context.Background(), sp), fail)
			}()
			<-sp.entered // tripped, not yet announced
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(sp.release)
			<-tripped
			if got, want := rec.transitions(), "closed>open open>closed(manual)"; got != want {
				t.Errorf("listener saw %q, want %q", got, want)
			}
			if b.State() != closed {
				t.Errorf("state %s", b.State())
			}
			// seen did not move back: no event is announced again.
			_ = b.Execute(context.Background(), ok)
			if got := rec.transitions(); got != "closed>open open>closed(manual)" {
				t.Errorf("after one more call the listener saw %q", got)
			}
		})
	}
}
