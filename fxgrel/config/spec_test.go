package grelconfig_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

type algo string

const (
	bucket algo = "token_bucket"
	window algo = "sliding_window"
)

type testConfig struct {
	Algorithm algo
	Lease     time.Duration
	Renew     time.Duration
	Attempts  int
	Factor    float64
	Enabled   bool
	Worker    string
	Tags      []string
	Format    string
	Password  string
	Rate      float64
	Window    time.Duration
}

var (
	spec = grelconfig.NewSpec[testConfig]("TEST").
		Algorithm(func(c *testConfig) string { return string(c.Algorithm) }).
		Check(func(c *testConfig) error {
			if c.Lease <= c.Renew {
				return errors.New("LeaseDuration must be greater than RenewDeadline")
			}
			return nil
		})
	leaseF   = spec.Duration("LEASE_DURATION", func(c *testConfig) *time.Duration { return &c.Lease }, 30*time.Second, grelconfig.Positive[time.Duration]())
	renewF   = spec.Duration("RENEW_DEADLINE", func(c *testConfig) *time.Duration { return &c.Renew }, 10*time.Second, grelconfig.Positive[time.Duration]())
	attemptF = spec.Int("MAX_ATTEMPTS", func(c *testConfig) *int { return &c.Attempts }, 3, grelconfig.Between(1, 100))
	factorF  = spec.Float("FACTOR", func(c *testConfig) *float64 { return &c.Factor }, 2, grelconfig.AtLeast(1.0))
	_        = spec.Bool("ENABLED", func(c *testConfig) *bool { return &c.Enabled }, true)
	workerF  = spec.String("WORKER", func(c *testConfig) *string { return &c.Worker }, "", grelconfig.NotEmpty())
	_        = spec.List("TAGS", func(c *testConfig) *[]string { return &c.Tags }, []string{"a"})
	_        = grelconfig.Enum(spec, "FORMAT", func(c *testConfig) *string { return &c.Format }, "json", "json", "logfmt", "pretty")
	_        = spec.String("PASSWORD", func(c *testConfig) *string { return &c.Password }, "").Secret()
	_        = spec.Float("RATE", func(c *testConfig) *float64 { return &c.Rate }, 10, grelconfig.Positive[float64]()).For(string(bucket))
	_        = spec.Duration("WINDOW", func(c *testConfig) *time.Duration { return &c.Window }, time.Minute, grelconfig.Positive[time.Duration]()).For(string(window))
)

// base makes the spec's NotEmpty worker rule pass unless a test says otherwise.
var base = map[string]string{"GREL_TEST_WORKER": "w1"}

func withBase(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestResolveOrder(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		env      map[string]string
		settings []grelconfig.Setting[testConfig]
		want     time.Duration
		origin   grelconfig.Origin
	}{
		{"default", "cart", nil, nil, 30 * time.Second, grelconfig.OriginDefault},
		{"kind variable", "cart", map[string]string{"GREL_TEST_LEASE_DURATION": "40s"}, nil, 40 * time.Second, grelconfig.OriginKind},
		{"instance beats kind", "cart", map[string]string{"GREL_TEST_LEASE_DURATION": "40s", "GREL_TEST_CART_LEASE_DURATION": "50s"}, nil, 50 * time.Second, grelconfig.OriginInstance},
		{"option beats all", "cart", map[string]string{"GREL_TEST_LEASE_DURATION": "40s", "GREL_TEST_CART_LEASE_DURATION": "50s"},
			[]grelconfig.Setting[testConfig]{leaseF.Set(60 * time.Second)}, 60 * time.Second, grelconfig.OriginOption},
		{"other instance ignored", "cart", map[string]string{"GREL_TEST_ORDERS_LEASE_DURATION": "50s"}, nil, 30 * time.Second, grelconfig.OriginDefault},
		{"default instance reads kind variable", "", map[string]string{"GREL_TEST_LEASE_DURATION": "45s"}, nil, 45 * time.Second, grelconfig.OriginKind},
		{"name normalised", "my-cart.v2", map[string]string{"GREL_TEST_MY_CART_V2_LEASE_DURATION": "55s"}, nil, 55 * time.Second, grelconfig.OriginInstance},
		{"GREL_ENV_LOAD=false turns variables off", "cart", map[string]string{"GREL_ENV_LOAD": "false", "GREL_TEST_CART_LEASE_DURATION": "50s", "GREL_TEST_LEASE_DURATION": "40s"}, nil, 30 * time.Second, grelconfig.OriginDefault},
		{"GREL_ENV_LOAD=true keeps them", "cart", map[string]string{"GREL_ENV_LOAD": "true", "GREL_TEST_CART_LEASE_DURATION": "50s"}, nil, 50 * time.Second, grelconfig.OriginInstance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := withBase(tt.env)
			if env["GREL_ENV_LOAD"] == "false" {
				// the worker rule needs a value: give it through an option
				tt.settings = append(tt.settings, workerF.Set("w1"))
			}
			reg := grelconfig.NewRegistry(grelconfig.Map(env))
			c, err := spec.Resolve(reg, tt.instance, tt.settings...)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if c.Lease != tt.want {
				t.Fatalf("Lease = %v, want %v", c.Lease, tt.want)
			}
			var found bool
			for _, e := range reg.Describe() {
				if e.Field == "LeaseDuration" {
					found = true
					if e.Origin != tt.origin {
						t.Fatalf("origin = %s, want %s", e.Origin, tt.origin)
					}
				}
			}
			if !found {
				t.Fatal("LeaseDuration not described")
			}
		})
	}
}

func TestFieldTypes(t *testing.T) {
	tests := []struct {
		variable, value string
		check           func(c testConfig) bool
	}{
		{"GREL_TEST_X_MAX_ATTEMPTS", " 7 ", func(c testConfig) bool { return c.Attempts == 7 }},
		{"GREL_TEST_X_FACTOR", "1.5", func(c testConfig) bool { return c.Factor == 1.5 }},
		{"GREL_TEST_X_ENABLED", "off", func(c testConfig) bool { return !c.Enabled }},
		{"GREL_TEST_X_ENABLED", "YES", func(c testConfig) bool { return c.Enabled }},
		{"GREL_TEST_X_TAGS", " a, b ,,c ", func(c testConfig) bool { return strings.Join(c.Tags, "|") == "a|b|c" }},
		{"GREL_TEST_X_TAGS", "", func(c testConfig) bool { return len(c.Tags) == 0 }},
		{"GREL_TEST_X_FORMAT", "LOGFMT", func(c testConfig) bool { return c.Format == "logfmt" }},
		{"GREL_TEST_X_RENEW_DEADLINE", "0.5", func(c testConfig) bool { return c.Renew == 500*time.Millisecond }},
		{"GREL_TEST_X_LEASE_DURATION", "1m30s", func(c testConfig) bool { return c.Lease == 90*time.Second }},
		{"GREL_TEST_X_WORKER", "w-9", func(c testConfig) bool { return c.Worker == "w-9" }},
		{"GREL_TEST_X_PASSWORD", " spaces kept ", func(c testConfig) bool { return c.Password == " spaces kept " }},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			c, err := spec.ResolveFrom(grelconfig.Map(withBase(map[string]string{tt.variable: tt.value})), "x")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("got %+v", c)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90", 90 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{" 2h ", 2 * time.Hour, true},
		{"-3", -3 * time.Second, true},
		{"1e3", 1000 * time.Second, true},
		{"", 0, false},
		{"abc", 0, false},
		{"10 seconds", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"1e300", 0, false},
		{"1_000", 0, false},
	}
	for _, tt := range tests {
		got, err := grelconfig.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseBoolIntFloatList(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "YES": true, "on": true, "1": true, "false": false, "Off": false, "no": false, "0": false} {
		if got, err := grelconfig.ParseBool(in); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "maybe", "2", "tru"} {
		if _, err := grelconfig.ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) accepted", in)
		}
	}
	for _, in := range []string{"", "1.5", "x", "9999999999999999999999"} {
		if _, err := grelconfig.ParseInt(in); err == nil {
			t.Errorf("ParseInt(%q) accepted", in)
		}
	}
	for _, in := range []string{"", "inf", "NaN", "0x1p3", "1e999", "1,5"} {
		if _, err := grelconfig.ParseFloat(in); err == nil {
			t.Errorf("ParseFloat(%q) accepted", in)
		}
	}
	if l, _ := grelconfig.ParseList(""); len(l) != 0 {
		t.Errorf("ParseList(\"\") = %v", l)
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"cart", "CART"},
		{"Cart-Service", "CART_SERVICE"},
		{"a..b", "A_B"},
		{"__x__", "X"},
		{"api/v1:users", "API_V1_USERS"},
		{"café", "CAF"},
		{"9lives", "9LIVES"},
	}
	for _, tt := range tests {
		got, err := grelconfig.NormalizeName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"-", "___", "é", "  "} {
		if _, err := grelconfig.NormalizeName(in); !errors.Is(err, grelconfig.ErrInvalidName) {
			t.Errorf("NormalizeName(%q) err = %v, want ErrInvalidName", in, err)
		}
	}
	if _, err := spec.ResolveFrom(grelconfig.Map(base), "---"); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("Resolve with empty normalised name: %v", err)
	}
}

func TestErrors(t *testing.T) {
	const secret = "hunter2-not-a-duration"
	tests := []struct {
		name     string
		env      map[string]string
		settings []grelconfig.Setting[testConfig]
		algo     algo
		contains []string
	}{
		{"unparsable instance variable", map[string]string{"GREL_TEST_CART_LEASE_DURATION": secret},
			nil, "", []string{"GREL_TEST_CART_LEASE_DURATION", "LeaseDuration", "not a valid duration"}},
		{"unparsable kind variable", map[string]string{"GREL_TEST_MAX_ATTEMPTS": secret},
			nil, "", []string{"GREL_TEST_MAX_ATTEMPTS", "MaxAttempts", "not a valid integer"}},
		{"rule broken by a variable", map[string]string{"GREL_TEST_CART_MAX_ATTEMPTS": "1000"},
			nil, "", []string{"GREL_TEST_CART_MAX_ATTEMPTS", "must be between 1 and 100"}},
		{"rule broken by an option", nil,
			[]grelconfig.Setting[testConfig]{attemptF.Set(0)}, "", []string{"option MaxAttempts", "must be between 1 and 100"}},
		{"enum", map[string]string{"GREL_TEST_CART_FORMAT": secret},
			nil, "", []string{"GREL_TEST_CART_FORMAT", "must be one of json, logfmt, pretty"}},
		{"cross-field check", map[string]string{"GREL_TEST_CART_LEASE_DURATION": "5s"},
			nil, "", []string{"LeaseDuration must be greater than RenewDeadline"}},
		{"field of another algorithm at the instance address", map[string]string{"GREL_TEST_CART_WINDOW": "1m"},
			nil, bucket, []string{"GREL_TEST_CART_WINDOW", "sliding_window algorithm", "uses token_bucket"}},
		{"bad GREL_ENV_LOAD", map[string]string{"GREL_ENV_LOAD": secret},
			nil, "", []string{"GREL_ENV_LOAD", "not a valid boolean"}},
		{"several errors at once", map[string]string{"GREL_TEST_CART_LEASE_DURATION": secret, "GREL_TEST_CART_FACTOR": secret},
			nil, "", []string{"GREL_TEST_CART_LEASE_DURATION", "GREL_TEST_CART_FACTOR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := tt.settings
			c := grelconfig.Map(withBase(tt.env))
			var err error
			if tt.algo != "" {
				_, err = algoSpecResolve(c, tt.algo, settings)
			} else {
				_, err = spec.ResolveFrom(c, "cart", settings...)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, grelconfig.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			var ce *grelconfig.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *grelconfig.Error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) {
				t.Fatalf("error repeats the value: %s", msg)
			}
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
			if !strings.HasPrefix(msg, "grelconfig: ") {
				t.Errorf("error %q lacks the package prefix", msg)
			}
		})
	}
}

// algoSpecResolve resolves with the algorithm chosen in code, as a pattern
// constructor does: the algorithm is a field of the Config set by a Setting.
func algoSpecResolve(src grelconfig.Source, a algo, settings []grelconfig.Setting[testConfig]) (testConfig, error) {
	settings = append(settings, algoField.Set(a))
	return spec.ResolveFrom(src, "cart", settings...)
}

// algoField lets code set the Algorithm, as pattern constructors do; no
// variable may set it.
var algoField = grelconfig.Var(spec, "ALGORITHM", func(c *testConfig) *algo { return &c.Algorithm }, "", grelconfig.EnumCodec[algo]("", bucket, window)).CodeOnly()

func TestAlgorithmFields(t *testing.T) {
	// The kind-level variable of another algorithm does not apply to this
	// instance and is not an error (it may be meant for other instances).
	c, err := algoSpecResolve(grelconfig.Map(withBase(map[string]string{"GREL_TEST_WINDOW": "5m", "GREL_TEST_CART_RATE": "7"})), bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 7 || c.Window != time.Minute {
		t.Fatalf("got rate %v window %v", c.Rate, c.Window)
	}
	// The environment never chooses the algorithm: trying is an error.
	for _, v := range []string{"GREL_TEST_CART_ALGORITHM", "GREL_TEST_ALGORITHM"} {
		_, err = algoSpecResolve(grelconfig.Map(withBase(map[string]string{v: "sliding_window"})), bucket, nil)
		if err == nil || !strings.Contains(err.Error(), v+" (Algorithm): is chosen in code") {
			t.Fatalf("%s: err = %v, want a refusal", v, err)
		}
	}
	c, err = algoSpecResolve(grelconfig.Map(withBase(map[string]string{"GREL_ENV_LOAD": "false", "GREL_TEST_ALGORITHM": "x"})), bucket, []grelconfig.Setting[testConfig]{workerF.Set("w")})
	if err != nil || c.Algorithm != bucket {
		t.Fatalf("with GREL_ENV_LOAD=false: %q, %v", c.Algorithm, err)
	}
	// FromConfig validation skips the rules of other algorithms' fields.
	cfg := c
	cfg.Window = 0
	if err := spec.Validate(cfg); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	cfg.Rate = 0
	if err := spec.Validate(cfg); err == nil || !strings.Contains(err.Error(), "config Rate: must be greater than 0") {
		t.Fatalf("Validate: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(withBase(map[string]string{"GREL_TEST_CART_PASSWORD": "s3cret", "GREL_TEST_FACTOR": "3"})))
	if _, err := spec.Resolve(reg, "cart"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Vendor(grelconfig.VendorVar{Name: "EXAMPLE_URL", Kind: "EXAMPLE", Default: "x://localhost",
		Redact: func(string) string { return "x://***@host" }}); err {
		t.Fatal("EXAMPLE_URL should not be set")
	}
	got := map[string]grelconfig.Entry{}
	for _, e := range reg.Describe() {
		got[e.Variable] = e
	}
	want := map[string]struct {
		value  string
		origin grelconfig.Origin
		typ    string
	}{
		"GREL_TEST_CART_PASSWORD":       {"<redacted>", grelconfig.OriginInstance, "string"},
		"GREL_TEST_CART_FACTOR":         {"3", grelconfig.OriginKind, "float"},
		"GREL_TEST_CART_LEASE_DURATION": {"30s", grelconfig.OriginDefault, "duration"},
		"GREL_TEST_CART_WORKER":         {"w1", grelconfig.OriginKind, "string"},
		"GREL_TEST_CART_TAGS":           {"a", grelconfig.OriginDefault, "list"},
		"GREL_TEST_CART_FORMAT":         {"json", grelconfig.OriginDefault, "enum"},
		"EXAMPLE_URL":                   {"x://***@host", grelconfig.OriginDefault, "string"},
	}
	for v, w := range want {
		e, ok := got[v]
		if !ok {
			t.Errorf("%s not described", v)
			continue
		}
		if e.Value != w.value || e.Origin != w.origin || e.Type != w.typ {
			t.Errorf("%s = %+v, want value %q origin %s type %s", v, e, w.value, w.origin, w.typ)
		}
	}
	var b strings.Builder
	if err := grelconfig.WriteTable(&b, reg.Describe()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") {
		t.Fatal("table shows a secret")
	}
	if !strings.Contains(b.String(), "GREL_TEST_CART_LEASE_DURATION") {
		t.Fatalf("table lacks a variable:\n%s", b.String())
	}
}

func TestGoNames(t *testing.T) {
	type c struct{ A, B, D time.Duration }
	s := grelconfig.NewSpec[c]("NAMES")
	ttl := s.Duration("CACHE_TTL", func(x *c) *time.Duration { return &x.A }, time.Second)
	id := s.Duration("WORKER_ID_X", func(x *c) *time.Duration { return &x.B }, time.Second)
	own := s.Duration("RENEW", func(x *c) *time.Duration { return &x.D }, time.Second).GoName("RenewDeadline")
	if ttl.Name() != "CacheTTL" || id.Name() != "WorkerIDX" || own.Name() != "RenewDeadline" {
		t.Fatalf("names = %s %s %s", ttl.Name(), id.Name(), own.Name())
	}
}

func TestSettingApply(t *testing.T) {
	c := spec.Defaults()
	for _, s := range []grelconfig.Setting[testConfig]{renewF.Set(time.Second), factorF.Set(4), {}} {
		s.Apply(&c)
	}
	if c.Renew != time.Second || c.Factor != 4 || c.Lease != 30*time.Second {
		t.Fatalf("after Apply: %+v", c)
	}
	if renewF.Key() != "RENEW_DEADLINE" || renewF.Name() != "RenewDeadline" {
		t.Fatalf("key %s name %s", renewF.Key(), renewF.Name())
	}
}
