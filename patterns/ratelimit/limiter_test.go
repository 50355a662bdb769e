package grelratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func registry(vars map[string]string) grelratelimit.Option {
	return grelratelimit.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(vars)))
}

func mustNew(t *testing.T, name string, b grelratelimit.Backend, opts ...grelratelimit.Option) *grelratelimit.Limiter {
	t.Helper()
	l, err := grelratelimit.New(name, b, append([]grelratelimit.Option{registry(nil)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConfigResolution(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		opts []grelratelimit.Option
		want func(c grelratelimit.Config) bool
	}{
		{"defaults", nil, nil, func(c grelratelimit.Config) bool {
			return c.Algorithm == grelratelimit.TokenBucket && c.Rate == 10 && c.Period == time.Second && c.Burst == 10 &&
				c.Timeout == 100*time.Millisecond && c.Degradation == grelratelimit.FallbackLocal && c.ProbeInterval == time.Second &&
				c.ClientIPHeader == "X-Forwarded-For"
		}},
		{"instance over kind", map[string]string{"GREL_RATELIMIT_API_BURST": "7", "GREL_RATELIMIT_BURST": "3", "GREL_RATELIMIT_RATE": "0.5"}, nil,
			func(c grelratelimit.Config) bool { return c.Burst == 7 && c.Rate == 0.5 }},
		{"option over instance", map[string]string{"GREL_RATELIMIT_API_BURST": "7"}, []grelratelimit.Option{grelratelimit.WithBurst(2)},
			func(c grelratelimit.Config) bool { return c.Burst == 2 }},
		{"sliding window numbers", map[string]string{"GREL_RATELIMIT_API_LIMIT": "5", "GREL_RATELIMIT_API_WINDOW": "90"},
			[]grelratelimit.Option{grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow)},
			func(c grelratelimit.Config) bool { return c.Limit == 5 && c.Window == 90*time.Second }},
		{"a kind variable of the other algorithm is not for this instance", map[string]string{"GREL_RATELIMIT_WINDOW": "5s"}, nil,
			func(c grelratelimit.Config) bool { return c.Algorithm == grelratelimit.TokenBucket }},
		{"degradation and proxies", map[string]string{"GREL_RATELIMIT_API_DEGRADATION": "FAIL_CLOSED", "GREL_RATELIMIT_API_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, nil,
			func(c grelratelimit.Config) bool {
				return c.Degradation == grelratelimit.FailClosed && len(c.TrustedProxies) == 2
			}},
		{"variables off", map[string]string{"GREL_ENV_LOAD": "false", "GREL_RATELIMIT_API_BURST": "7", "GREL_RATELIMIT_API_ALGORITHM": "x"}, nil,
			func(c grelratelimit.Config) bool { return c.Burst == 10 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := grelratelimit.New("api", grelratelimit.NewMemory(), append([]grelratelimit.Option{registry(tt.vars)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if c := l.Config(); !tt.want(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name     string
		vars     map[string]string
		opts     []grelratelimit.Option
		variable string // named in the error ("" for none)
	}{
		{"window on a token bucket", map[string]string{"GREL_RATELIMIT_API_WINDOW": "1m"}, nil, "GREL_RATELIMIT_API_WINDOW"},
		{"rate on a sliding window", map[string]string{"GREL_RATELIMIT_API_RATE": "1"},
			[]grelratelimit.Option{grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow)}, "GREL_RATELIMIT_API_RATE"},
		{"instance algorithm", map[string]string{"GREL_RATELIMIT_API_ALGORITHM": "sliding_window"}, nil, "GREL_RATELIMIT_API_ALGORITHM"},
		{"kind algorithm", map[string]string{"GREL_RATELIMIT_ALGORITHM": "sliding_window"}, nil, "GREL_RATELIMIT_ALGORITHM"},
		{"negative rate", map[string]string{"GREL_RATELIMIT_API_RATE": "-" + secret}, nil, "GREL_RATELIMIT_API_RATE"},
		{"burst not a number", map[string]string{"GREL_RATELIMIT_API_BURST": secret}, nil, "GREL_RATELIMIT_API_BURST"},
		{"zero burst", map[string]string{"GREL_RATELIMIT_API_BURST": "0"}, nil, "GREL_RATELIMIT_API_BURST"},
		{"bad degradation", map[string]string{"GREL_RATELIMIT_API_DEGRADATION": secret}, nil, "GREL_RATELIMIT_API_DEGRADATION"},
		{"bad proxy", map[string]string{"GREL_RATELIMIT_API_TRUSTED_PROXIES": "10.0.0.0/8," + secret}, nil, "GREL_RATELIMIT_API_TRUSTED_PROXIES"},
		{"bad header", map[string]string{"GREL_RATELIMIT_API_CLIENT_IP_HEADER": "X Forwarded " + secret}, nil, "GREL_RATELIMIT_API_CLIENT_IP_HEADER"},
		{"rate too fast", map[string]string{"GREL_RATELIMIT_API_RATE": "1e7"}, nil, ""},
		{"refill too long", map[string]string{"GREL_RATELIMIT_API_RATE": "1", "GREL_RATELIMIT_API_PERIOD": "24h", "GREL_RATELIMIT_API_BURST": "1000"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := grelratelimit.New("api", grelratelimit.NewMemory(), append([]grelratelimit.Option{registry(tt.vars)}, tt.opts...)...)
			if !errors.Is(err, grelconfig.ErrInvalid) {
				t.Fatalf("New = %v, want a grelconfig.ErrInvalid", err)
			}
			if tt.variable != "" && !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q repeats the value", err)
			}
		})
	}
}

func TestConstructorErrors(t *testing.T) {
	if _, err := grelratelimit.New("api", grelratelimit.NewMemory(), registry(nil), grelratelimit.WithWindow(time.Minute)); err == nil ||
		!strings.Contains(err.Error(), "WithWindow applies to the sliding_window algorithm") {
		t.Errorf("WithWindow on a token bucket: %v", err)
	}
	if _, err := grelratelimit.New("api", grelratelimit.NewMemory(), registry(nil),
		grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow), grelratelimit.WithBurst(3)); err == nil ||
		!strings.Contains(err.Error(), "WithBurst applies to the token_bucket algorithm") {
		t.Errorf("WithBurst on a sliding window: %v", err)
	}
	for _, name := range []string{"a:b", "a b", "é", "..."} {
		if _, err := grelratelimit.New(name, grelratelimit.NewMemory(), registry(nil)); !errors.Is(err, grelratelimit.ErrInvalidName) {
			t.Errorf("New(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := grelratelimit.New("api", nil, registry(nil)); !errors.Is(err, grelratelimit.ErrNoBackend) {
		t.Errorf("nil backend: %v", err)
	}
	if _, err := grelratelimit.NewFromConfig("api", grelratelimit.NewMemory(), grelratelimit.Config{}); !errors.Is(err, grelconfig.ErrInvalid) {
		t.Errorf("zero Config: %v", err)
	}
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	l, err := grelratelimit.NewFromConfig("api", grelratelimit.NewMemory(), cfg, grelratelimit.WithLimit(3))
	if err != nil || l.Config().Limit != 3 || l.Config().Window != time.Minute {
		t.Errorf("NewFromConfig with WithLimit(3): %v, %+v", err, l.Config())
	}
}

func TestAllowNArguments(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithBurst(3))
	ctx := context.Background()
	if _, err := l.AllowN(ctx, "k", 0); !errors.Is(err, grelratelimit.ErrInvalidN) {
		t.Errorf("AllowN(0) = %v", err)
	}
	r, err := l.AllowN(ctx, "k", 4)
	if !errors.Is(err, grelratelimit.ErrExceedsLimit) || r.RetryAfter != grelratelimit.Never || r.Limit != 3 {
		t.Errorf("AllowN(4) with a burst of 3 = %+v, %v", r, err)
	}
	if err := l.WaitN(ctx, "k", 4); !errors.Is(err, grelratelimit.ErrExceedsLimit) {
		t.Errorf("WaitN(4) = %v", err)
	}
}

func TestReconfigure(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory())
	cfg := l.Config()
	cfg.Algorithm = grelratelimit.SlidingWindow
	if err := l.Reconfigure(cfg); err == nil || !strings.Contains(err.Error(), "Algorithm cannot change") {
		t.Errorf("changing the algorithm: %v", err)
	}
	cfg = l.Config()
	cfg.Burst = -1
	if err := l.Reconfigure(cfg); !errors.Is(err, grelconfig.ErrInvalid) {
		t.Errorf("Burst -1: %v", err)
	}
	if l.Config().Burst != 10 {
		t.Errorf("a refused Reconfigure changed the config: %+v", l.Config())
	}
}

func TestReloadThroughTheRegistry(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_BURST": "2"}))
	l, err := grelratelimit.New("api", grelratelimit.NewMemory(), grelratelimit.WithRegistry(reg),
		grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	unregister := reg.Register(l)
	defer unregister()
	ctx := context.Background()
	if r, _ := l.AllowN(ctx, "k", 2); !r.Allowed {
		t.Fatal("burst of 2 refused")
	}
	if err := reg.Reload(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_BURST": "5", "GREL_RATELIMIT_API_PERIOD": "1s"})); err != nil {
		t.Fatal(err)
	}
	if c := l.Config(); c.Burst != 5 || c.Period != time.Hour {
		t.Errorf("after reload: %+v; want Burst 5 and the Period option kept", c)
	}
	if r, _ := l.AllowN(ctx, "k", 3); !r.Allowed || r.Limit != 5 {
		t.Errorf("after reload to a burst of 5, AllowN(3) = %+v", r)
	}
	err = reg.Reload(grelconfig.Map(map[string]string{"GREL_RATELIMIT_API_WINDOW": "1m"}))
	if err == nil || l.Config().Burst != 5 {
		t.Errorf("a reload with another algorithm's variable: %v, config %+v", err, l.Config())
	}
	if keys := reg.Live(); len(keys) != 1 || keys[0] != (grelconfig.Key{Kind: "RATELIMIT", Instance: "api"}) {
		t.Errorf("Live = %v", keys)
	}
}

// flaky is a backend on memory that can be taken down (it fails), hung
// (it blocks until its context ends) or brought back.
type flaky struct {
	mem   *grelratelimit.Memory
	state atomic.Int32 // 0 up, 1 down, 2 hung
	calls atomic.Int64
}

var errDown = errors.New("store down")

func (*flaky) Kind() string { return "flaky" }

func (f *flaky) Decide(ctx context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	f.calls.Add(1)
	switch f.state.Load() {
	case 1:
		return grelratelimit.Decision{}, errDown
	case 2:
		<-ctx.Done()
		return grelratelimit.Decision{}, ctx.Err()
	}
	return f.mem.Decide(ctx, req)
}

func (f *flaky) Reset(ctx context.Context, name, key string) error {
	if f.state.Load() != 0 {
		return errDown
	}
	return f.mem.Reset(ctx, name, key)
}

func newFlaky() *flaky { return &flaky{mem: grelratelimit.NewMemory()} }

func TestDegradation(t *testing.T) {
	tests := []struct {
		degradation grelratelimit.Degradation
		mode        grelratelimit.Mode
		allowed     []bool // three Allow calls on a burst of 2
		retry       time.Duration
	}{
		{grelratelimit.FailOpen, grelratelimit.ModeFailOpen, []bool{true, true, true}, 0},
		{grelratelimit.FailClosed, grelratelimit.ModeFailClosed, []bool{false, false, false}, time.Second},
		{grelratelimit.FallbackLocal, grelratelimit.ModeLocal, []bool{true, true, false}, -1},
	}
	for _, tt := range tests {
		for _, state := range []int32{1, 2} {
			t.Run(string(tt.degradation)+map[int32]string{1: "/down", 2: "/hung"}[state], func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFlaky()
					f.state.Store(state)
					l := mustNew(t, "api", f, grelratelimit.WithBurst(2), grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour),
						grelratelimit.WithDegradation(tt.degradation),
						grelratelimit.WithTimeout(50*time.Millisecond), grelratelimit.WithProbeInterval(0))
					ctx := context.Background()
					for i, want := range tt.allowed {
						start := time.Now()
						r, err := l.Allow(ctx, "k")
						if err != nil {
							t.Fatal(err)
						}
						if elapsed := time.Since(start); state == 2 && elapsed != 50*time.Millisecond || state == 1 && elapsed != 0 {
							t.Errorf("call %d took %v, want the timeout (50ms) for a hung store, nothing for a down one", i, elapsed)
						}
						if r.Allowed != want || r.Mode != tt.mode || !r.Degraded() || r.Limit != 2 {
							t.Errorf("call %d: %+v, want allowed %v in mode %v", i, r, want, tt.mode)
						}
						if i == 2 && tt.retry >= 0 && r.RetryAfter != tt.retry {
							t.Errorf("call %d: RetryAfter %v, want %v", i, r.RetryAfter, tt.retry)
						}
						if i == 2 && tt.retry < 0 && (r.RetryAfter > time.Hour || r.RetryAfter < time.Hour-100*time.Millisecond) {
							t.Errorf("call %d: RetryAfter %v, want the local bucket's, about an hour", i, r.RetryAfter)
						}
					}
					if f.calls.Load() != 3 {
						t.Errorf("the store was called %d times, want 3 (PROBE_INTERVAL 0)", f.calls.Load())
					}
				})
			})
		}
	}
}

func TestProbeIntervalAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		f := newFlaky()
		l := mustNew(t, "api", f, grelratelimit.WithBurst(100), grelratelimit.WithProbeInterval(time.Second),
			grelratelimit.WithLogger(zap.New(core)))
		ctx := context.Background()
		if r, _ := l.Allow(ctx, "k"); r.Mode != grelratelimit.ModeNormal {
			t.Fatalf("store up: %+v", r)
		}
		f.state.Store(1)
		for range 5 {
			if r, _ := l.Allow(ctx, "k"); r.Mode != grelratelimit.ModeLocal {
				t.Fatalf("store down: %+v", r)
			}
		}
		if got := f.calls.Load(); got != 2 {
			t.Errorf("%d store calls, want 2: after a failure, none until PROBE_INTERVAL", got)
		}
		time.Sleep(time.Second)
		_, _ = l.Allow(ctx, "k")
		if got := f.calls.Load(); got != 3 {
			t.Errorf("%d store calls after PROBE_INTERVAL, want one probe (3)", got)
		}
		f.state.Store(0)
		_, _ = l.Allow(ctx, "k") // still within the new interval: local
		time.Sleep(time.Second)
		if r, _ := l.Allow(ctx, "k"); r.Mode != grelratelimit.ModeNormal {
			t.Errorf("store back: %+v", r)
		}
		if r, _ := l.Allow(ctx, "k"); r.Mode != grelratelimit.ModeNormal || f.calls.Load() != 5 {
			t.Errorf("store back, second call: %+v, %d calls", r, f.calls.Load())
		}
		if n := logs.FilterMessage("rate limit store failed; degrading").Len(); n != 1 {
			t.Errorf("%d warnings for one outage, want 1", n)
		}
		if n := logs.FilterMessage("rate limit store recovered").Len(); n != 1 {
			t.Errorf("%d recoveries logged, want 1", n)
		}
		if e := logs.FilterMessage("rate limit store failed; degrading").All(); len(e) == 1 {
			fields := e[0].ContextMap()
			if fields["pattern"] != "ratelimit" || fields["name"] != "api" || fields["backend"] != "flaky" || fields["degradation"] != "local" {
				t.Errorf("warning fields %v", fields)
			}
		}
	})
}

func TestCallerCancellationIsNotAStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFlaky()
		f.state.Store(2)
		l := mustNew(t, "api", f, grelratelimit.WithTimeout(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := l.Allow(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Allow with the caller's deadline = %v, want context.DeadlineExceeded", err)
		}
		if err := l.Reset(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Reset = %v", err)
		}
	})
}

// deadlineSeen is a store that answers from memory and keeps the deadline
// of the context each decision got.
type deadlineSeen struct {
	mem  *grelratelimit.Memory
	last atomic.Int64 // UnixNano; 0 for none
}

func (*deadlineSeen) Kind() string { return "deadline" }

func (d *deadlineSeen) Decide(ctx context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	var ns int64
	if dl, ok := ctx.Deadline(); ok {
		ns = dl.UnixNano()
	}
	d.last.Store(ns)
	return d.mem.Decide(ctx, req)
}

func (d *deadlineSeen) Reset(ctx context.Context, name, key string) error {
	return d.mem.Reset(ctx, name, key)
}

// Each store call ends at Timeout or at the caller's deadline, whichever
// comes first; a caller deadline that comes first costs no timer of the
// limiter's own (no allocation on a store that allocates nothing).
func TestStoreCallDeadline(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name   string
		caller time.Duration // 0: no deadline
		want   time.Duration
	}{
		{"no caller deadline", 0, timeout},
		{"a later caller deadline", time.Second, timeout},
		{"an earlier caller deadline", 10 * time.Millisecond, 10 * time.Millisecond},
		{"the same deadline", timeout, timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &deadlineSeen{mem: grelratelimit.NewMemory()}
				l := mustNew(t, "api", s, grelratelimit.WithTimeout(timeout))
				ctx := context.Background()
				if tt.caller > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.caller)
					defer cancel()
				}
				start := time.Now()
				if r, err := l.Allow(ctx, "k"); err != nil || !r.Allowed || r.Degraded() {
					t.Fatalf("Allow = %+v, %v", r, err)
				}
				if got := time.Unix(0, s.last.Load()).Sub(start); got != tt.want {
					t.Errorf("the store call's deadline is %v away, want %v", got, tt.want)
				}
			})
		})
	}
	s := &deadlineSeen{mem: grelratelimit.NewMemory()}
	l := mustNew(t, "api", s, grelratelimit.WithTimeout(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n := testing.AllocsPerRun(1000, func() { _, _ = l.Allow(ctx, "k") }); n != 0 {
		t.Errorf("Allow with the caller's earlier deadline allocates %v times, want 0", n)
	}
}

func TestResetOfADownStoreFails(t *testing.T) {
	f := newFlaky()
	l := mustNew(t, "api", f, grelratelimit.WithBurst(1))
	f.state.Store(1)
	ctx := context.Background()
	_, _ = l.Allow(ctx, "k") // taken locally
	if err := l.Reset(ctx, "k"); !errors.Is(err, errDown) {
		t.Errorf("Reset = %v, want the store's error", err)
	}
	if r, _ := l.Allow(ctx, "k"); !r.Allowed || r.Mode != grelratelimit.ModeLocal {
		t.Errorf("the local fallback was not reset: %+v", r)
	}
}

func TestAllowAllocatesNothing(t *testing.T) {
	for _, a := range []grelratelimit.Algorithm{grelratelimit.TokenBucket, grelratelimit.SlidingWindow} {
		l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithAlgorithm(a))
		ctx := context.Background()
		if n := testing.AllocsPerRun(1000, func() { _, _ = l.Allow(ctx, "k") }); n != 0 {
			t.Errorf("%s: Allow allocates %v times", a, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _, _ = l.Peek(ctx, "k") }); n != 0 {
			t.Errorf("%s: Peek allocates %v times", a, n)
		}
	}
}

func TestMetricsAndSpans(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	f := newFlaky()
	l := mustNew(t, "api", f, grelratelimit.WithBurst(1), grelratelimit.WithMeterProvider(mp), grelratelimit.WithTracerProvider(tp),
		grelratelimit.WithProbeInterval(0))
	ctx := context.Background()
	_, _ = l.Allow(ctx, "k") // allowed
	_, _ = l.Allow(ctx, "k") // denied
	_, _ = l.Peek(ctx, "k")  // not a decision
	f.state.Store(1)
	_, _ = l.Allow(ctx, "other") // allowed, degraded (local)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != grelratelimit.MetricDecisions {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				allowed, _ := dp.Attributes.Value("allowed")
				degraded, _ := dp.Attributes.Value("degraded")
				mode, _ := dp.Attributes.Value("grel.ratelimit.mode")
				name, _ := dp.Attributes.Value("grel.name")
				if name.AsString() != "api" {
					t.Errorf("grel.name = %v", name)
				}
				counts[allowed.String()+"/"+degraded.String()+"/"+mode.AsString()] += dp.Value
			}
		}
	}
	want := map[string]int64{"true/false/normal": 1, "false/false/normal": 1, "true/true/local": 1}
	if len(counts) != len(want) {
		t.Errorf("decision counts %v, want %v", counts, want)
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("decisions %s = %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}

	ended := spans.Ended()
	if len(ended) != 4 {
		t.Fatalf("%d spans, want 4", len(ended))
	}
	names := []string{"grel.ratelimit.allow", "grel.ratelimit.allow", "grel.ratelimit.peek", "grel.ratelimit.allow"}
	for i, s := range ended {
		if s.Name() != names[i] {
			t.Errorf("span %d: %s, want %s", i, s.Name(), names[i])
		}
		attrs := attribute.NewSet(s.Attributes()...)
		if v, _ := attrs.Value("grel.name"); v.AsString() != "api" {
			t.Errorf("span %d: grel.name %v", i, v)
		}
		if v, _ := attrs.Value("grel.backend"); v.AsString() != "flaky" {
			t.Errorf("span %d: grel.backend %v", i, v)
		}
	}
	spanAttr := func(i int, k attribute.Key) attribute.Value {
		set := attribute.NewSet(ended[i].Attributes()...)
		v, _ := set.Value(k)
		return v
	}
	if !spanAttr(3, "grel.ratelimit.degraded").AsBool() {
		t.Errorf("the degraded decision's span does not say so")
	}
	if spanAttr(1, "grel.ratelimit.allowed").AsBool() {
		t.Errorf("the denied decision's span says allowed")
	}
	_ = tp.Shutdown(ctx)
	_ = mp.Shutdown(ctx)
}

func TestMemoryIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := func(prefix string, i int) string { return prefix + time.Duration(i).String() }
		ctx := context.Background()

		capped := grelratelimit.NewMemory(grelratelimit.WithMemoryMaxKeys(640))
		l := mustNew(t, "api", capped, grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour))
		for i := range 10_000 {
			_, _ = l.Allow(ctx, key("k", i))
		}
		if n := capped.Len(); n > 640 {
			t.Errorf("%d keys held, MaxKeys 640", n)
		}

		m := grelratelimit.NewMemory()
		l = mustNew(t, "api", m, grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour))
		for i := range 10_000 {
			_, _ = l.Allow(ctx, key("old", i))
		}
		if n := m.Len(); n != 10_000 {
			t.Fatalf("%d keys held, want 10000", n)
		}
		// After an hour every bucket is full again: the keys are idle, and
		// new keys sweep them out.
		time.Sleep(time.Hour)
		for i := range 15_000 {
			_, _ = l.Allow(ctx, key("new", i))
		}
		if n := m.Len(); n > 15_000 {
			t.Errorf("%d keys held: idle keys were not swept", n)
		}
		for i := range 1000 {
			_, _ = l.Peek(ctx, key("peeked", i))
		}
		if n := m.Len(); n > 15_000 {
			t.Errorf("Peek stored keys: %d held", n)
		}
		// A decision that leaves a key idle (here a Reset then a peek)
		// stores nothing either.
		_ = l.Reset(ctx, key("new", 0))
		if n := m.Len(); n > 14_999 {
			t.Errorf("Reset kept the key: %d held", n)
		}
	})
}
