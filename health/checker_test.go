package grelhealth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap/zapcore"
)

func TestRegister(t *testing.T) {
	detail := func(context.Context) (map[string]any, error) { return nil, nil }
	tests := []struct {
		name    string
		check   grelhealth.Check
		want    error  // sentinel
		message string // substring of the error
	}{
		{"ok", grelhealth.Check{Name: "redis", Func: pass}, nil, ""},
		{"ok with details", grelhealth.Check{Name: "pg.primary-1_a", DetailFunc: detail}, nil, ""},
		{"ok max length", grelhealth.Check{Name: strings.Repeat("a", 128), Func: pass}, nil, ""},
		{"empty name", grelhealth.Check{Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"too long", grelhealth.Check{Name: strings.Repeat("a", 129), Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"slash", grelhealth.Check{Name: "redis/cache", Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"comma", grelhealth.Check{Name: "a,b", Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"space", grelhealth.Check{Name: "a b", Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"leading dash", grelhealth.Check{Name: "-a", Func: pass}, grelhealth.ErrInvalidCheck, "Name must be"},
		{"no function", grelhealth.Check{Name: "a"}, grelhealth.ErrInvalidCheck, "exactly one of Func and DetailFunc"},
		{"two functions", grelhealth.Check{Name: "a", Func: pass, DetailFunc: detail}, grelhealth.ErrInvalidCheck, "exactly one of Func and DetailFunc"},
		{"negative timeout", grelhealth.Check{Name: "a", Func: pass, Timeout: -1}, grelhealth.ErrInvalidCheck, "Timeout must not be negative"},
		{"negative ttl", grelhealth.Check{Name: "a", Func: pass, TTL: -1}, grelhealth.ErrInvalidCheck, "TTL must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t)
			err := c.Register(tt.check)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				return
			}
			var re *grelhealth.RegisterError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) {
				t.Fatalf("Register error = %v, want %v as a *RegisterError", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "grelhealth: ") || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Register error = %q, want the prefix grelhealth: and %q", err, tt.message)
			}
			if len(c.Names()) != 0 {
				t.Fatalf("a refused check was registered: %v", c.Names())
			}
		})
	}
}

func TestRegisterDuplicate(t *testing.T) {
	c := newChecker(t)
	mustRegister(t, c, grelhealth.Check{Name: "redis", Func: pass})
	for _, register := range []func(grelhealth.Check) error{c.Register, c.RegisterLiveness} {
		err := register(grelhealth.Check{Name: "redis", Func: pass})
		if !errors.Is(err, grelhealth.ErrDuplicateCheck) || !strings.Contains(err.Error(), `"redis": registered twice`) {
			t.Fatalf("duplicate error = %v", err)
		}
	}
	if got := c.Names(); len(got) != 1 {
		t.Fatalf("Names = %v", got)
	}
}

func TestConfig(t *testing.T) {
	reg := func(env map[string]string) grelhealth.Option {
		return grelhealth.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(env)))
	}
	tests := []struct {
		name string
		opts []grelhealth.Option
		want grelhealth.Config
		err  string // substring; "" for none
	}{
		{"defaults", []grelhealth.Option{reg(nil)},
			grelhealth.Config{Timeout: 5 * time.Second, TTL: time.Second}, ""},
		{"environment", []grelhealth.Option{reg(map[string]string{
			"GREL_HEALTH_TIMEOUT": "2", "GREL_HEALTH_TTL": "250ms", "GREL_HEALTH_DRAIN_DELAY": "10s", "GREL_HEALTH_INTERVAL": "1m"})},
			grelhealth.Config{Timeout: 2 * time.Second, TTL: 250 * time.Millisecond, DrainDelay: 10 * time.Second, Interval: time.Minute}, ""},
		{"option over environment", []grelhealth.Option{reg(map[string]string{"GREL_HEALTH_TTL": "3s"}), grelhealth.WithTTL(0)},
			grelhealth.Config{Timeout: 5 * time.Second}, ""},
		{"env load off", []grelhealth.Option{reg(map[string]string{"GREL_ENV_LOAD": "false", "GREL_HEALTH_TTL": "3s"})},
			grelhealth.Config{Timeout: 5 * time.Second, TTL: time.Second}, ""},
		{"bad duration", []grelhealth.Option{reg(map[string]string{"GREL_HEALTH_TIMEOUT": "s3cr3t"})},
			grelhealth.Config{}, "GREL_HEALTH_TIMEOUT (Timeout): not a valid duration"},
		{"zero timeout", []grelhealth.Option{reg(map[string]string{"GREL_HEALTH_TIMEOUT": "0"})},
			grelhealth.Config{}, "GREL_HEALTH_TIMEOUT (Timeout): must be greater than 0"},
		{"negative drain", []grelhealth.Option{reg(map[string]string{"GREL_HEALTH_DRAIN_DELAY": "-1"})},
			grelhealth.Config{}, "GREL_HEALTH_DRAIN_DELAY (DrainDelay): must not be negative"},
		{"bad option", []grelhealth.Option{reg(nil), grelhealth.WithInterval(-time.Second)},
			grelhealth.Config{}, "Interval: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := grelhealth.New(tt.opts...)
			if tt.err != "" {
				if !errors.Is(err, grelconfig.ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("New error = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("the error repeats the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := c.Config(); got != tt.want {
				t.Fatalf("Config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	cfg := grelhealth.Config{Timeout: time.Second, TTL: 0}
	c, err := grelhealth.NewFromConfig(cfg, grelhealth.WithDrainDelay(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := (grelhealth.Config{Timeout: time.Second, DrainDelay: 3 * time.Second}); c.Config() != want {
		t.Fatalf("Config = %+v, want %+v", c.Config(), want)
	}
	if _, err := grelhealth.NewFromConfig(grelhealth.Config{}); !errors.Is(err, grelconfig.ErrInvalid) || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("zero Timeout accepted: %v", err)
	}
}

// countingCheck counts its runs and takes d (fake time under synctest).
func countingCheck(name string, calls *atomic.Int64, d time.Duration, err error) grelhealth.Check {
	return grelhealth.Check{Name: name, Func: func(ctx context.Context) error {
		calls.Add(1)
		select {
		case <-time.After(d):
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

// TestSingleFlightPerTTL: 1,000 concurrent /readyz requests run each check
// once; the result is reused for the TTL counted from when the run
// finished, then one new run serves the next wave.
func TestSingleFlightPerTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithTTL(time.Second))
		var a, b, slow atomic.Int64
		mustRegister(t, c,
			countingCheck("a", &a, 10*time.Millisecond, nil),
			countingCheck("b", &b, 0, nil),
		)
		// slow has its own TTL of 3s and takes 100ms.
		s := countingCheck("slow", &slow, 100*time.Millisecond, nil)
		s.TTL = 3 * time.Second
		mustRegister(t, c, s)
		h := grelhealth.NewHandler(c).Readyz()

		start := time.Now()
		steps := []struct {
			at          time.Duration // since start
			wantA       int64
			wantB       int64
			wantSlow    int64
			wantElapsed time.Duration // how long the wave took
		}{
			{0, 1, 1, 1, 100 * time.Millisecond},                      // every check runs once, concurrently
			{500 * time.Millisecond, 1, 1, 1, 0},                      // all cached
			{1009 * time.Millisecond, 1, 2, 1, 0},                     // b (done at 0) expired at 1s; a (done at 10ms) is cached
			{1010 * time.Millisecond, 2, 2, 1, 10 * time.Millisecond}, // a expired at 1010ms
			{1100 * time.Millisecond, 2, 2, 1, 0},                     // all cached
			{3099 * time.Millisecond, 3, 3, 1, 10 * time.Millisecond}, // slow (done at 100ms, TTL 3s) cached until 3100ms
			{3100 * time.Millisecond, 3, 3, 2, 100 * time.Millisecond},
		}
		for _, st := range steps {
			time.Sleep(time.Until(start.Add(st.at)))
			before := time.Now()
			var wg sync.WaitGroup
			var bad atomic.Int64
			for range 1000 {
				wg.Go(func() {
					if rec := serve(h, http.MethodGet, "/readyz"); rec.Code != http.StatusOK {
						bad.Add(1)
					}
				})
			}
			wg.Wait()
			if n := bad.Load(); n != 0 {
				t.Fatalf("at %v: %d requests were not 200", st.at, n)
			}
			if got := time.Since(before); got != st.wantElapsed {
				t.Errorf("at %v: the wave took %v, want %v", st.at, got, st.wantElapsed)
			}
			if a.Load() != st.wantA || b.Load() != st.wantB || slow.Load() != st.wantSlow {
				t.Fatalf("at %v: calls a=%d b=%d slow=%d, want %d %d %d",
					st.at, a.Load(), b.Load(), slow.Load(), st.wantA, st.wantB, st.wantSlow)
			}
		}
	})
}

// TestSingleFlightRealTime hammers the checker with real concurrency (under
// -race) and checks that no check ran more often than once per TTL.
func TestSingleFlightRealTime(t *testing.T) {
	const ttl = 40 * time.Millisecond
	c := newChecker(t, grelhealth.WithTTL(ttl))
	var calls [3]atomic.Int64
	for i := range calls {
		mustRegister(t, c, countingCheck(fmt.Sprintf("c%d", i), &calls[i], time.Millisecond, nil))
	}
	h := grelhealth.NewHandler(c)
	m := mux(h)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			for time.Since(start) < 200*time.Millisecond {
				target := [...]string{"/readyz", "/healthz", "/readyz/c1", "/healthz?exclude=c2"}[i%4]
				if rec := serve(m, http.MethodGet, target); rec.Code != http.StatusOK {
					t.Errorf("%s: %d", target, rec.Code)
					return
				}
			}
		})
	}
	wg.Wait()
	// Runs are at least a TTL apart (from the end of one to the start of
	// the next), so there are at most elapsed/ttl + 1 of them.
	limit := int64(time.Since(start)/ttl) + 1
	for i := range calls {
		if n := calls[i].Load(); n < 1 || n > limit {
			t.Errorf("c%d ran %d times in %v, want 1 to %d", i, n, time.Since(start), limit)
		}
	}
}

// TestHangingCheck: a check that passes its timeout is answered at the
// timeout, reported failed, and its run ends (its ctx is canceled).
func TestHangingCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithTimeout(2*time.Second))
		returned := make(chan error, 1)
		mustRegister(t, c, grelhealth.Check{Name: "db", Timeout: 300 * time.Millisecond, Func: func(ctx context.Context) error {
			<-ctx.Done()
			returned <- ctx.Err()
			return ctx.Err()
		}})
		h := mux(grelhealth.NewHandler(c))
		start := time.Now()
		rec := serve(h, http.MethodGet, "/readyz")
		if rec.Code != http.StatusServiceUnavailable || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("/readyz = %d after %v, want 503 after the check's 300ms timeout", rec.Code, time.Since(start))
		}
		if err := <-returned; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the check's ctx ended with %v", err)
		}
		res, err := c.Check(t.Context(), "db")
		var te *grelhealth.TimeoutError
		if err != nil || res.Status != grelhealth.StatusFail || !errors.As(res.Err, &te) || te.Timeout != 300*time.Millisecond ||
			!errors.Is(res.Err, grelhealth.ErrTimeout) || !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Fatalf("Check = %+v, %v; want a cached *TimeoutError of 300ms", res, err)
		}
		if res.Duration != 300*time.Millisecond {
			t.Fatalf("Duration = %v", res.Duration)
		}
		synctest.Wait() // the run goroutine has ended; goleak and the bubble check it too
	})
}

// TestCheckIgnoringContext: the one check that cannot be stopped. It is
// answered at its timeout; while it has not returned no second run starts,
// and the result says so; once it returns, runs resume.
func TestCheckIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithTTL(time.Second))
		release := make(chan struct{})
		defer close(release)
		var calls atomic.Int64
		mustRegister(t, c, grelhealth.Check{Name: "stuck", Timeout: 200 * time.Millisecond, Func: func(context.Context) error {
			if calls.Add(1) == 1 {
				<-release // ignores its ctx
			}
			return nil
		}})
		steps := []struct {
			name      string
			at        time.Duration
			release   bool
			wantErr   error
			wantTook  time.Duration // how long the caller waited
			wantCalls int64
		}{
			{"first run times out", 0, false, grelhealth.ErrTimeout, 200 * time.Millisecond, 1},
			{"timeout result cached", 1100 * time.Millisecond, false, grelhealth.ErrTimeout, 0, 1},
			{"expired, still running: no second run", 1200 * time.Millisecond, false, grelhealth.ErrStillRunning, 0, 1},
			{"still-running result cached", 1500 * time.Millisecond, false, grelhealth.ErrStillRunning, 0, 1},
			{"returned: runs resume", 2200 * time.Millisecond, true, nil, 0, 2},
		}
		start := time.Now()
		for _, st := range steps {
			time.Sleep(time.Until(start.Add(st.at)))
			if st.release {
				release <- struct{}{}
				synctest.Wait()
			}
			before := time.Now()
			res, err := c.Check(t.Context(), "stuck")
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if !errors.Is(res.Err, st.wantErr) || (st.wantErr == nil) != (res.Err == nil) {
				t.Fatalf("%s: result error %v, want %v", st.name, res.Err, st.wantErr)
			}
			if took := time.Since(before); took != st.wantTook {
				t.Fatalf("%s: waited %v, want %v", st.name, took, st.wantTook)
			}
			if calls.Load() != st.wantCalls {
				t.Fatalf("%s: %d calls, want %d", st.name, calls.Load(), st.wantCalls)
			}
		}
	})
}

// TestCallerCancel: a caller whose ctx ends stops waiting; the shared run
// goes on and serves the others.
func TestCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t)
		var runCtxErr atomic.Value
		mustRegister(t, c, grelhealth.Check{Name: "db", Func: func(ctx context.Context) error {
			time.Sleep(time.Second)
			runCtxErr.Store(fmt.Sprint(ctx.Err()))
			return nil
		}})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		var other grelhealth.Result
		var otherErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			other, otherErr = c.Check(t.Context(), "db")
		}()
		start := time.Now()
		if _, err := c.Check(ctx, "db"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("canceled caller: %v after %v", err, time.Since(start))
		}
		if ok, err := c.Ready(ctx); ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ready with a done ctx = %v, %v", ok, err)
		}
		<-done
		if otherErr != nil || other.Status != grelhealth.StatusPass || time.Since(start) != time.Second {
			t.Fatalf("other caller: %+v, %v after %v", other, otherErr, time.Since(start))
		}
		if got := runCtxErr.Load(); got != "<nil>" {
			t.Fatalf("the run's ctx was canceled by a caller: %v", got)
		}
	})
}

// TestChecksAreIndependent: a hanging check holds no lock that another
// check's callers need.
func TestChecksAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t)
		mustRegister(t, c,
			grelhealth.Check{Name: "hang", Func: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
			grelhealth.Check{Name: "quick", Func: pass},
		)
		h := mux(grelhealth.NewHandler(c))
		go serve(h, http.MethodGet, "/readyz") // waits 5s on hang
		synctest.Wait()
		start := time.Now()
		for _, target := range []string{"/readyz/quick", "/healthz/quick", "/readyz?exclude=hang", "/livez"} {
			if rec := serve(h, http.MethodGet, target); rec.Code != http.StatusOK {
				t.Fatalf("%s = %d", target, rec.Code)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("waited %v behind the hanging check", time.Since(start))
		}
		if err := c.Register(grelhealth.Check{Name: "late", Func: pass}); err != nil {
			t.Fatalf("Register while a run hangs: %v", err)
		}
	})
}

func TestPanicRecovered(t *testing.T) {
	log, logs := observed(zapcore.DebugLevel)
	c := newChecker(t, grelhealth.WithLogger(log), grelhealth.WithTTL(0))
	boom := errors.New("boom")
	var n atomic.Int64
	mustRegister(t, c,
		grelhealth.Check{Name: "value", Func: func(context.Context) error {
			if n.Add(1) == 1 {
				panic("nil map write")
			}
			return nil
		}},
		grelhealth.Check{Name: "error", DetailFunc: func(context.Context) (map[string]any, error) { panic(boom) }},
	)
	res, err := c.Check(t.Context(), "value")
	var pe *grelhealth.PanicError
	if err != nil || res.Status != grelhealth.StatusFail || !errors.As(res.Err, &pe) || pe.Value != "nil map write" ||
		!errors.Is(res.Err, grelhealth.ErrPanic) || !strings.Contains(string(pe.Stack), "checker_test.go") {
		t.Fatalf("panicking check: %+v, %v", res, err)
	}
	if res, _ := c.Check(t.Context(), "value"); res.Status != grelhealth.StatusPass {
		t.Fatalf("the check did not run again after its panic: %+v", res)
	}
	res, _ = c.Check(t.Context(), "error")
	if !errors.Is(res.Err, boom) || res.Err.Error() != "grelhealth: check panicked: boom" {
		t.Fatalf("panic(error) result: %v", res.Err)
	}
	// A run logs after handing its result to the callers; Stop waits for
	// the runs, and so for their logs.
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterMessage("health check panicked").All()
	if len(entries) != 2 || entries[0].Level != zapcore.ErrorLevel || entries[0].ContextMap()["stack"] == nil {
		t.Fatalf("panic logs: %+v", entries)
	}
}

// TestCriticality: non-critical failures never make the service unready;
// they show in the aggregate.
func TestCriticality(t *testing.T) {
	down := errors.New("down")
	fail := func(context.Context) error { return down }
	tests := []struct {
		name        string
		checks      []grelhealth.Check
		wantReadyz  int
		wantHealthz int
		wantStatus  grelhealth.Status
	}{
		{"none", nil, 200, 200, grelhealth.StatusPass},
		{"all pass", []grelhealth.Check{{Name: "a", Func: pass}, {Name: "b", Func: pass, NonCritical: true}}, 200, 200, grelhealth.StatusPass},
		{"non-critical fails", []grelhealth.Check{{Name: "a", Func: pass}, {Name: "b", Func: fail, NonCritical: true}}, 200, 200, grelhealth.StatusWarn},
		{"critical fails", []grelhealth.Check{{Name: "a", Func: fail}, {Name: "b", Func: pass, NonCritical: true}}, 503, 503, grelhealth.StatusFail},
		{"both fail", []grelhealth.Check{{Name: "a", Func: fail}, {Name: "b", Func: fail, NonCritical: true}}, 503, 503, grelhealth.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t)
			mustRegister(t, c, tt.checks...)
			h := mux(grelhealth.NewHandler(c))
			if rec := serve(h, http.MethodGet, "/readyz"); rec.Code != tt.wantReadyz {
				t.Errorf("/readyz = %d, want %d", rec.Code, tt.wantReadyz)
			}
			if rec := serve(h, http.MethodGet, "/healthz"); rec.Code != tt.wantHealthz {
				t.Errorf("/healthz = %d, want %d", rec.Code, tt.wantHealthz)
			}
			rep, err := c.Report(t.Context(), grelhealth.ScopeAll)
			if err != nil || rep.Status != tt.wantStatus || len(rep.Checks) != len(tt.checks) {
				t.Errorf("Report = %+v, %v; want status %s", rep, err, tt.wantStatus)
			}
			if ready, _ := c.Ready(t.Context()); ready != (tt.wantReadyz == 200) {
				t.Errorf("Ready = %v", ready)
			}
		})
	}
}

// TestLiveness: liveness checks decide /livez and are part of /readyz;
// readiness checks never run for /livez.
func TestLiveness(t *testing.T) {
	c := newChecker(t, grelhealth.WithTTL(0))
	var dep atomic.Int64
	var loopOK atomic.Bool
	loopOK.Store(true)
	mustRegister(t, c, countingCheck("redis", &dep, 0, errors.New("down")))
	if err := c.RegisterLiveness(grelhealth.Check{Name: "loop", Func: func(context.Context) error {
		if !loopOK.Load() {
			return errors.New("event loop stalled")
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	h := mux(grelhealth.NewHandler(c))
	if rec := serve(h, http.MethodGet, "/livez"); rec.Code != 200 || dep.Load() != 0 {
		t.Fatalf("/livez = %d, dependency calls %d; want 200 and none", rec.Code, dep.Load())
	}
	if rec := serve(h, http.MethodGet, "/livez/redis"); rec.Code != 404 {
		t.Fatalf("/livez/redis = %d, want 404: not a liveness check", rec.Code)
	}
	loopOK.Store(false)
	if rec := serve(h, http.MethodGet, "/livez"); rec.Code != 503 {
		t.Fatalf("/livez with a failing liveness check = %d", rec.Code)
	}
	if rec := serve(h, http.MethodGet, "/readyz?verbose&exclude=redis"); rec.Code != 503 || !strings.Contains(rec.Body.String(), "[-]loop failed") {
		t.Fatalf("/readyz does not include the liveness check: %d %q", rec.Code, rec.Body)
	}
	if dep.Load() != 0 {
		t.Fatalf("an excluded check ran")
	}
	if err := c.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	loopOK.Store(true)
	if rec := serve(h, http.MethodGet, "/livez"); rec.Code != 200 {
		t.Fatalf("/livez while draining = %d, want 200: draining is not a liveness failure", rec.Code)
	}
}

func TestStatusListener(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var c *grelhealth.Checker
	var ok atomic.Bool
	c = newChecker(t, grelhealth.WithTTL(0), grelhealth.WithStatusListener(func(ch grelhealth.StatusChange) {
		// Listeners run outside the checker's locks: calling back is safe.
		rep, err := c.Report(context.Background(), grelhealth.ScopeAll, ch.Name)
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %s->%s (%v) %v %v", ch.Name, ch.Previous, ch.Result.Status, ch.Result.Err, len(rep.Excluded), err))
	}), grelhealth.WithStatusListener(func(grelhealth.StatusChange) { panic("listener bug") }))
	mustRegister(t, c, grelhealth.Check{Name: "db", Func: func(context.Context) error {
		if ok.Load() {
			return nil
		}
		return errors.New("refused")
	}})
	for _, up := range []bool{true, true, false, false, true} {
		ok.Store(up)
		if _, err := c.Check(t.Context(), "db"); err != nil {
			t.Fatal(err)
		}
	}
	// Listeners run after the result is handed to the callers; Stop waits
	// for the runs, and so for their listeners.
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"db unknown->pass (<nil>) 1 <nil>",
		"db pass->fail (refused) 1 <nil>",
		"db fail->pass (<nil>) 1 <nil>",
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("events:\n%q\nwant\n%q", events, want)
	}
}

// TestFailuresLogged: the full error reaches the log with the standard
// fields even though the public body withholds it.
func TestFailuresLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := observed(zapcore.InfoLevel)
		c := newChecker(t, grelhealth.WithLogger(log), grelhealth.WithTTL(0))
		var ok atomic.Bool
		mustRegister(t, c, grelhealth.Check{Name: "db", Func: func(context.Context) error {
			if ok.Load() {
				return nil
			}
			return errors.New("password authentication failed for user app")
		}})
		h := mux(grelhealth.NewHandler(c))
		rec := serve(h, http.MethodGet, "/healthz")
		if strings.Contains(rec.Body.String(), "password") {
			t.Fatalf("the public body holds the error: %s", rec.Body)
		}
		synctest.Wait() // a run logs after handing its result to the callers
		failed := logs.FilterMessage("health check failed").All()
		if len(failed) != 1 || failed[0].Level != zapcore.WarnLevel {
			t.Fatalf("failure logs: %+v", failed)
		}
		fields := failed[0].ContextMap()
		if fields[grellog.FieldPattern] != "health" || fields[grellog.FieldName] != "db" || fields[grellog.FieldOp] != "check" ||
			fields[grellog.FieldError] != "password authentication failed for user app" || fields[grellog.FieldDuration] == nil {
			t.Fatalf("failure log fields: %v", fields)
		}
		ok.Store(true)
		serve(h, http.MethodGet, "/healthz")
		synctest.Wait()
		if n := logs.FilterMessage("health check recovered").Len(); n != 1 {
			t.Fatalf("recovery logs: %d", n)
		}
	})
}

func TestBackgroundRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithInterval(time.Second), grelhealth.WithTTL(time.Second))
		var calls atomic.Int64
		mustRegister(t, c, countingCheck("db", &calls, 0, nil))
		start := time.Now()
		if err := c.Start(t.Context()); err != nil || time.Since(start) != 0 {
			t.Fatalf("Start: %v after %v", err, time.Since(start))
		}
		if err := c.Start(t.Context()); err != nil {
			t.Fatalf("second Start: %v", err)
		}
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("no run at Start: %d", calls.Load())
		}
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		if calls.Load() != 4 {
			t.Fatalf("after 3.5s: %d runs, want 4", calls.Load())
		}
		// Requests are served from the background results.
		if _, err := c.Check(t.Context(), "db"); err != nil || calls.Load() != 4 {
			t.Fatalf("Check ran the check again: %v, %d", err, calls.Load())
		}
		if err := c.Stop(t.Context()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		time.Sleep(5 * time.Second)
		if calls.Load() != 4 {
			t.Fatalf("runs after Stop: %d", calls.Load())
		}
		if err := c.Start(t.Context()); !errors.Is(err, grelhealth.ErrStopped) {
			t.Fatalf("Start after Stop: %v", err)
		}
	})
}

func TestStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithTimeout(time.Minute))
		runEnded := make(chan error, 1)
		mustRegister(t, c, grelhealth.Check{Name: "db", Func: func(ctx context.Context) error {
			<-ctx.Done()
			runEnded <- context.Cause(ctx)
			return ctx.Err()
		}})
		var res grelhealth.Result
		done := make(chan struct{})
		go func() { defer close(done); res, _ = c.Check(context.Background(), "db") }()
		synctest.Wait()
		start := time.Now()
		if err := c.Stop(t.Context()); err != nil || time.Since(start) != 0 {
			t.Fatalf("Stop: %v after %v", err, time.Since(start))
		}
		if err := <-runEnded; !errors.Is(err, grelhealth.ErrStopped) {
			t.Fatalf("the run's ctx cause = %v", err)
		}
		<-done
		if !errors.Is(res.Err, grelhealth.ErrStopped) {
			t.Fatalf("the waiting caller got %v", res.Err)
		}
		if err := c.Register(grelhealth.Check{Name: "late", Func: pass}); err != nil {
			t.Fatal(err)
		}
		if res, err := c.Check(t.Context(), "late"); err != nil || !errors.Is(res.Err, grelhealth.ErrStopped) {
			t.Fatalf("Check after Stop = %+v, %v", res, err)
		}
		if err := c.Stop(t.Context()); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	})
}

// TestStopStuckCheck: Stop waits for a check that ignores its ctx at most
// until that run's timeout, then names it.
func TestStopStuckCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t)
		release := make(chan struct{})
		defer close(release)
		mustRegister(t, c, grelhealth.Check{Name: "stuck", Timeout: 3 * time.Second, Func: func(context.Context) error {
			<-release
			return nil
		}})
		_, _ = c.Ready(t.Context())
		start := time.Now()
		err := c.Stop(t.Context())
		if !errors.Is(err, grelhealth.ErrStillRunning) || !strings.Contains(err.Error(), "stuck") {
			t.Fatalf("Stop = %v", err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("Stop waited %v for a run that had passed its timeout", time.Since(start))
		}
	})
}

func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithDrainDelay(5*time.Second))
		mustRegister(t, c, grelhealth.Check{Name: "db", Func: pass})
		h := mux(grelhealth.NewHandler(c))
		if rec := serve(h, http.MethodGet, "/readyz"); rec.Code != 200 {
			t.Fatalf("/readyz before drain = %d", rec.Code)
		}
		start := time.Now()
		drained := make(chan error)
		go func() { drained <- c.Drain(context.Background()) }()
		synctest.Wait()
		if !c.Draining() {
			t.Fatal("Draining = false during Drain")
		}
		for target, want := range map[string]int{"/readyz": 503, "/healthz": 503, "/livez": 200, "/readyz/db": 200} {
			if rec := serve(h, http.MethodGet, target); rec.Code != want {
				t.Errorf("%s while draining = %d, want %d", target, rec.Code, want)
			}
		}
		rec := serve(h, http.MethodGet, "/readyz?verbose")
		if want := "[-]drain failed: the service is shutting down\nreadyz check failed\n"; rec.Body.String() != want {
			t.Errorf("/readyz?verbose while draining = %q, want %q", rec.Body, want)
		}
		if err := <-drained; err != nil || time.Since(start) != 5*time.Second {
			t.Fatalf("Drain = %v after %v, want nil after 5s", err, time.Since(start))
		}
		if err := c.Drain(context.Background()); err != nil || time.Since(start) != 5*time.Second {
			t.Fatalf("second Drain = %v, waited again", err)
		}
		if ok, _ := c.Ready(t.Context()); ok {
			t.Fatal("Ready after Drain")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// A caller that cancels ends the wait with its error.
		c := newChecker(t, grelhealth.WithDrainDelay(time.Minute))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		if err := c.Drain(ctx); !errors.Is(err, context.Canceled) || !c.Draining() || time.Since(start) != time.Second {
			t.Fatalf("Drain canceled = %v after %v", err, time.Since(start))
		}
	})
}

// TestDrainLeavesBudget: Drain never uses the whole of its ctx's deadline:
// it waits at most until the deadline minus min(half the time left,
// DrainReserve), warns when that cut the delay, and returns nil, so that the
// stop hooks after it still run.
func TestDrainLeavesBudget(t *testing.T) {
	tests := []struct {
		name     string
		delay    time.Duration
		deadline time.Duration // 0: none
		wantWait time.Duration
		wantWarn bool
	}{
		{"no deadline", 6 * time.Second, 0, 6 * time.Second, false},
		{"fits", 6 * time.Second, 20 * time.Second, 6 * time.Second, false},
		{"fits exactly with the reserve", 6 * time.Second, 8 * time.Second, 6 * time.Second, false},
		{"the measured failure: 6s in a 5s stop", 6 * time.Second, 5 * time.Second, 3 * time.Second, true},
		{"just above", 3*time.Second + time.Millisecond, 5 * time.Second, 3 * time.Second, true},
		{"short budget: half is left", time.Minute, time.Second, 500 * time.Millisecond, true},
		{"short delay in a short budget", 400 * time.Millisecond, time.Second, 400 * time.Millisecond, false},
		{"no delay", 0, time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log, logs := observed(zapcore.InfoLevel)
				c := newChecker(t, grelhealth.WithDrainDelay(tt.delay), grelhealth.WithLogger(log))
				mustRegister(t, c, grelhealth.Check{Name: "db", Func: pass})
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				start := time.Now()
				drained := make(chan error, 1)
				go func() { drained <- c.Drain(ctx) }()
				synctest.Wait()
				if ok, _ := c.Ready(t.Context()); ok {
					t.Fatal("ready during the drain")
				}
				if err := <-drained; err != nil || time.Since(start) != tt.wantWait {
					t.Fatalf("Drain = %v after %v, want nil after %v", err, time.Since(start), tt.wantWait)
				}
				if tt.deadline > 0 && ctx.Err() != nil {
					t.Fatalf("Drain used the whole deadline")
				}
				warned := logs.FilterMessageSnippet("drain cut short").All()
				if (len(warned) == 1) != tt.wantWarn || len(warned) > 1 {
					t.Fatalf("%d cut-short warnings, want %v", len(warned), tt.wantWarn)
				}
				if tt.wantWarn {
					f := warned[0].ContextMap()
					if warned[0].Level != zapcore.WarnLevel || !strings.Contains(warned[0].Message, "GREL_HEALTH_DRAIN_DELAY") ||
						f["drain_delay"] != tt.delay || f[grellog.FieldDuration] != tt.wantWait {
						t.Fatalf("warning %s %q %v", warned[0].Level, warned[0].Message, f)
					}
				}
			})
		})
	}
}

// TestReadyAllocs: the probe path allocates nothing on cached results.
func TestReadyAllocs(t *testing.T) {
	c := newChecker(t, grelhealth.WithTTL(time.Hour))
	mustRegister(t, c, grelhealth.Check{Name: "a", Func: pass}, grelhealth.Check{Name: "b", Func: pass}, grelhealth.Check{Name: "c", Func: pass})
	ctx := t.Context()
	if ok, err := c.Ready(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Ready(ctx) }); n != 0 {
		t.Fatalf("Ready allocates %v per call", n)
	}
}

// TestFailureLogTransitions: a failing check is logged at warn (a panic at
// error) when it turns to failing, at debug with its error on each run while
// it keeps failing, and at info when it recovers; one line per run.
func TestFailureLogTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := observed(zapcore.DebugLevel)
		c := newChecker(t, grelhealth.WithLogger(log), grelhealth.WithTTL(0))
		var next atomic.Value // what the next run does
		mustRegister(t, c, grelhealth.Check{Name: "db", Timeout: time.Second, Func: func(ctx context.Context) error {
			switch v := next.Load().(string); v {
			case "pass":
				return nil
			case "panic":
				panic("nil map write")
			case "hang":
				<-ctx.Done()
				return ctx.Err()
			default:
				return errors.New(v)
			}
		}})
		steps := []struct {
			run     string // pass, panic, hang, or the error text
			level   zapcore.Level
			message string
			err     string // substring of the logged error; "" for none
		}{
			{"pass", zapcore.DebugLevel, "health check passed", ""},
			{"connection refused", zapcore.WarnLevel, "health check failed", "connection refused"},
			{"connection refused", zapcore.DebugLevel, "health check still failing", "connection refused"},
			{"auth failed", zapcore.DebugLevel, "health check still failing", "auth failed"},
			{"pass", zapcore.InfoLevel, "health check recovered", ""},
			{"pass", zapcore.DebugLevel, "health check passed", ""},
			{"panic", zapcore.ErrorLevel, "health check panicked", "nil map write"},
			{"panic", zapcore.DebugLevel, "health check still failing", "nil map write"},
			{"pass", zapcore.InfoLevel, "health check recovered", ""},
			{"refused", zapcore.WarnLevel, "health check failed", "refused"},
			{"panic", zapcore.ErrorLevel, "health check panicked", "nil map write"}, // a new kind of failure: a bug
			{"hang", zapcore.DebugLevel, "health check still failing", "timed out"},
			{"pass", zapcore.InfoLevel, "health check recovered", ""},
			{"hang", zapcore.WarnLevel, "health check failed", "timed out"},
		}
		for i, st := range steps {
			next.Store(st.run)
			before := logs.Len()
			if _, err := c.Check(t.Context(), "db"); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // the run's goroutine has logged
			got := logs.All()[before:]
			if len(got) != 1 {
				t.Fatalf("step %d (%s): %d log lines, want 1: %+v", i, st.run, len(got), got)
			}
			if got[0].Level != st.level || got[0].Message != st.message {
				t.Fatalf("step %d (%s): logged %s %q, want %s %q", i, st.run, got[0].Level, got[0].Message, st.level, st.message)
			}
			fields := got[0].ContextMap()
			if msg, _ := fields[grellog.FieldError].(string); !strings.Contains(msg, st.err) || (st.err == "") != (fields[grellog.FieldError] == nil) {
				t.Fatalf("step %d (%s): error field %v, want %q", i, st.run, fields[grellog.FieldError], st.err)
			}
			if fields[grellog.FieldName] != "db" || fields[grellog.FieldPattern] != "health" {
				t.Fatalf("step %d: fields %v", i, fields)
			}
		}
	})
}

// TestReadyAnswersAtFirstFailure: /readyz (Ready, Live) answers 503 as soon
// as one critical check fails, whatever its place in name order, and waits
// for the slowest check only when every one passes. The runs it stops
// waiting for go on and cache their result.
func TestReadyAnswersAtFirstFailure(t *testing.T) {
	down := errors.New("down")
	type check struct {
		name     string
		took     time.Duration
		err      error
		liveness bool
		ttl      time.Duration // 0: the checker's (an hour here)
	}
	tests := []struct {
		name    string
		checks  []check
		primed  bool   // one Ready call first (caches the checks with a TTL)
		call    string // "ready", "live" or "readyz"
		want    bool
		wantAt  time.Duration
		wantRun map[string]int64 // runs per check once every run has ended
	}{
		{"slow pass sorted first, instant failure", []check{{"a", time.Second, nil, false, 0}, {"b", 0, down, false, 0}},
			false, "ready", false, 0, map[string]int64{"a": 1, "b": 1}},
		{"the failure comes before the slow pass", []check{{"a", time.Second, nil, false, 0}, {"b", 200 * time.Millisecond, down, false, 0}},
			false, "ready", false, 200 * time.Millisecond, map[string]int64{"a": 1, "b": 1}},
		{"the first of two failures", []check{{"a", time.Second, down, false, 0}, {"b", 300 * time.Millisecond, down, false, 0}, {"c", 0, nil, false, 0}},
			false, "ready", false, 300 * time.Millisecond, map[string]int64{"a": 1, "b": 1, "c": 1}},
		{"every check passes: the slowest", []check{{"a", time.Second, nil, false, 0}, {"b", 200 * time.Millisecond, nil, false, 0}, {"c", 0, nil, false, 0}},
			false, "ready", true, time.Second, map[string]int64{"a": 1, "b": 1, "c": 1}},
		{"a cached failure answers at once", []check{{"a", time.Second, nil, false, time.Second}, {"b", 100 * time.Millisecond, down, false, 0}},
			true, "ready", false, 0, map[string]int64{"a": 2, "b": 1}},
		{"liveness", []check{{"a", time.Second, nil, true, 0}, {"b", 100 * time.Millisecond, down, true, 0}, {"c", 0, down, false, 0}},
			false, "live", false, 100 * time.Millisecond, map[string]int64{"a": 1, "b": 1, "c": 0}},
		{"the /readyz handler", []check{{"a", time.Second, nil, false, 0}, {"b", 0, down, false, 0}},
			false, "readyz", false, 0, map[string]int64{"a": 1, "b": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newChecker(t, grelhealth.WithTTL(time.Hour))
				runs := map[string]*atomic.Int64{}
				for _, ch := range tt.checks {
					n := &atomic.Int64{}
					runs[ch.name] = n
					check := countingCheck(ch.name, n, ch.took, ch.err)
					check.TTL = ch.ttl
					register := c.Register
					if ch.liveness {
						register = c.RegisterLiveness
					}
					if err := register(check); err != nil {
						t.Fatal(err)
					}
				}
				if tt.primed {
					_, _ = c.Ready(t.Context())
					time.Sleep(2 * time.Second) // every run has ended; a (TTL 1s) has expired
				}
				start := time.Now()
				var got bool
				var err error
				switch tt.call {
				case "ready":
					got, err = c.Ready(t.Context())
				case "live":
					got, err = c.Live(t.Context())
				case "readyz":
					rec := serve(grelhealth.NewHandler(c).Readyz(), http.MethodGet, "/readyz")
					got = rec.Code == http.StatusOK
				}
				if err != nil || got != tt.want || time.Since(start) != tt.wantAt {
					t.Fatalf("%s = %v, %v after %v; want %v after %v", tt.call, got, err, time.Since(start), tt.want, tt.wantAt)
				}
				time.Sleep(2 * time.Second) // the runs it did not wait for end and are cached
				synctest.Wait()
				for name, want := range tt.wantRun {
					if n := runs[name].Load(); n != want {
						t.Errorf("%s ran %d times, want %d", name, n, want)
					}
				}
			})
		})
	}
}

// TestReadyCallerGoneWhileWaiting: a caller waiting on several runs stops
// at its ctx, the runs go on for the others.
func TestReadyCallerGoneWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, grelhealth.WithTTL(time.Hour))
		var a, b atomic.Int64
		mustRegister(t, c, countingCheck("a", &a, time.Second, nil), countingCheck("b", &b, 2*time.Second, nil))
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		if ok, err := c.Ready(ctx); ok || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 500*time.Millisecond {
			t.Fatalf("Ready = %v, %v after %v", ok, err, time.Since(start))
		}
		if ok, err := c.Ready(t.Context()); !ok || err != nil || time.Since(start) != 2*time.Second {
			t.Fatalf("second Ready = %v, %v after %v, want true after the shared runs, at 2s", ok, err, time.Since(start))
		}
		if a.Load() != 1 || b.Load() != 1 {
			t.Fatalf("runs a=%d b=%d, want one each", a.Load(), b.Load())
		}
	})
}

// TestStatusListenerGoroutines pins where listeners run: at the timeout,
// from the timeout's goroutine, while the function still runs; after Stop,
// on the caller's goroutine, before its call returns; outside the locks
// every time (the listeners call the checker back).
func TestStatusListenerGoroutines(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			var c *grelhealth.Checker
			var mu sync.Mutex
			var events []string
			start := time.Now()
			c = newChecker(t, grelhealth.WithStatusListener(func(ch grelhealth.StatusChange) {
				_, err := c.Check(context.Background(), ch.Name) // no lock held
				mu.Lock()
				defer mu.Unlock()
				events = append(events, fmt.Sprintf("%v %s->%s timeout=%v %v", time.Since(start), ch.Previous, ch.Result.Status,
					errors.Is(ch.Result.Err, grelhealth.ErrTimeout), err))
			}))
			mustRegister(t, c, grelhealth.Check{Name: "stuck", Timeout: time.Second, Func: func(context.Context) error {
				<-release // ignores its ctx
				return nil
			}})
			if res, err := c.Check(t.Context(), "stuck"); err != nil || !errors.Is(res.Err, grelhealth.ErrTimeout) {
				t.Fatalf("Check = %+v, %v", res, err)
			}
			synctest.Wait() // the function is still blocked: only the timeout's goroutine can have called the listener
			mu.Lock()
			got := fmt.Sprint(events)
			mu.Unlock()
			if want := "[1s unknown->fail timeout=true <nil>]"; got != want {
				t.Fatalf("events %s, want %s", got, want)
			}
			close(release)
		})
	})
	t.Run("after stop", func(t *testing.T) {
		var c *grelhealth.Checker
		var calls atomic.Int64
		var reentered error
		c = newChecker(t, grelhealth.WithTTL(0), grelhealth.WithStatusListener(func(ch grelhealth.StatusChange) {
			if ch.Result.Status == grelhealth.StatusFail {
				_, reentered = c.Check(context.Background(), ch.Name) // no lock held
			}
			calls.Add(1)
		}))
		mustRegister(t, c, grelhealth.Check{Name: "db", Func: pass})
		if _, err := c.Check(t.Context(), "db"); err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(t.Context()); err != nil { // waits for the run and its listener
			t.Fatal(err)
		}
		if calls.Load() != 1 {
			t.Fatalf("%d listener calls before Stop, want 1 (unknown->pass)", calls.Load())
		}
		res, err := c.Check(t.Context(), "db")
		if err != nil || !errors.Is(res.Err, grelhealth.ErrStopped) {
			t.Fatalf("Check after Stop = %+v, %v", res, err)
		}
		// No run produced that result: the caller published it and called
		// the listener before returning.
		if calls.Load() != 2 || reentered != nil {
			t.Fatalf("%d listener calls when Check returned (re-entry %v), want 2: pass->fail on the caller's goroutine", calls.Load(), reentered)
		}
	})
}
