package grelratelimit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// fields parses the RateLimit and RateLimit-Policy fields of h against
// the draft's syntax and returns the one service limit and the one policy.
func fields(t *testing.T, h http.Header) (limit, policy sfItem) {
	t.Helper()
	get := func(name string, params ...string) sfItem {
		t.Helper()
		values := h.Values(name)
		if len(values) != 1 {
			t.Fatalf("%d %s fields, want 1: %q", len(values), name, values)
		}
		items, err := parseSFList(values[0])
		if err != nil || len(items) != 1 {
			t.Fatalf("%s: %q is not a List of one Item: %v", name, values[0], err)
		}
		it := items[0]
		if _, ok := it.value.(string); !ok {
			t.Errorf("%s: %q: the policy name is not a String", name, values[0])
		}
		for _, p := range params {
			v, ok := it.params[p].(int64)
			if !ok || v < 0 {
				t.Errorf("%s: %q: parameter %s is not a non-negative Integer", name, values[0], p)
			}
		}
		return it
	}
	limit = get(grelratelimit.HeaderRateLimit, "r", "t")
	policy = get(grelratelimit.HeaderRateLimitPolicy, "q", "w")
	if w, _ := policy.params["w"].(int64); w == 0 {
		t.Errorf("RateLimit-Policy: w must not be 0")
	}
	if limit.value != policy.value {
		t.Errorf("the fields name different policies: %v and %v", limit.value, policy.value)
	}
	return limit, policy
}

type response struct {
	code    int
	header  http.Header
	body    string
	handled bool
}

func serve(h func(http.Handler) http.Handler, req *http.Request) response {
	handled := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled = true
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	h(next).ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.String(), handled: handled}
}

func get(remote string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	r.RemoteAddr = remote
	return r
}

type problemBody struct {
	Type             string   `json:"type"`
	Title            string   `json:"title"`
	Status           int      `json:"status"`
	Detail           string   `json:"detail"`
	ViolatedPolicies []string `json:"violated-policies"`
}

func checkProblem(t *testing.T, res response, status int, typ string) {
	t.Helper()
	if res.code != status || res.handled {
		t.Fatalf("status %d (handled %v), want %d and the handler not called", res.code, res.handled, status)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p problemBody
	if err := json.Unmarshal([]byte(res.body), &p); err != nil {
		t.Fatalf("body %q: %v", res.body, err)
	}
	if p.Type != typ || p.Status != status || p.Title == "" || p.Detail == "" || len(p.ViolatedPolicies) != 1 {
		t.Errorf("problem %+v, want type %s and status %d", p, typ, status)
	}
}

func TestMiddlewareSlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithAlgorithm(grelratelimit.SlidingWindow),
			grelratelimit.WithLimit(3), grelratelimit.WithWindow(time.Minute))
		mw := grelratelimit.Middleware(l)
		for i, want := range []int64{2, 1, 0} {
			res := serve(mw, get("192.0.2.1:1234"))
			if res.code != http.StatusNoContent || !res.handled {
				t.Fatalf("request %d: %d", i, res.code)
			}
			limit, policy := fields(t, res.header)
			if limit.value != "api" || limit.params["r"] != want || limit.params["t"] != int64(120) {
				t.Errorf("request %d: RateLimit %q, want r=%d;t=120", i, res.header.Get("RateLimit"), want)
			}
			if policy.params["q"] != int64(3) || policy.params["w"] != int64(60) {
				t.Errorf("request %d: RateLimit-Policy %q, want q=3;w=60", i, res.header.Get("RateLimit-Policy"))
			}
			if res.header.Get("Retry-After") != "" {
				t.Errorf("request %d: Retry-After on an allowed response", i)
			}
		}
		// Refused: the window estimate allows the next permit after 80s
		// (60s to the next window, then 3 x 2/3 of the window for the
		// previous count to weigh 2).
		res := serve(mw, get("192.0.2.1:1234"))
		checkProblem(t, res, http.StatusTooManyRequests, grelratelimit.ProblemQuotaExceeded)
		if ra := res.header.Get("Retry-After"); ra != "80" {
			t.Errorf("Retry-After %q, want 80", ra)
		}
		if limit, _ := fields(t, res.header); limit.params["r"] != int64(0) || limit.params["t"] != int64(80) {
			t.Errorf("refused RateLimit %q, want r=0;t=80 (not before Retry-After)", res.header.Get("RateLimit"))
		}
		// Another client has its own key.
		if res := serve(mw, get("192.0.2.2:1234")); res.code != http.StatusNoContent {
			t.Errorf("another client: %d", res.code)
		}
	})
}

func TestMiddlewareRetryAfterRoundsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One permit per 1.5s.
		l := mustNew(t, "", grelratelimit.NewMemory(), grelratelimit.WithRate(1), grelratelimit.WithPeriod(1500*time.Millisecond),
			grelratelimit.WithBurst(1))
		mw := grelratelimit.Middleware(l)
		res := serve(mw, get("192.0.2.1:1"))
		limit, policy := fields(t, res.header)
		if limit.value != "default" || limit.params["t"] != int64(2) || policy.params["q"] != int64(1) || policy.params["w"] != int64(2) {
			t.Errorf("RateLimit %q, RateLimit-Policy %q; want the unnamed policy \"default\", t=2, q=1, w=2",
				res.header.Get("RateLimit"), res.header.Get("RateLimit-Policy"))
		}
		for _, tt := range []struct {
			after time.Duration
			want  string
		}{{0, "2"}, {600 * time.Millisecond, "1"}, {899 * time.Millisecond, "1"}} {
			time.Sleep(tt.after)
			res := serve(mw, get("192.0.2.1:1"))
			checkProblem(t, res, http.StatusTooManyRequests, grelratelimit.ProblemQuotaExceeded)
			if ra := res.header.Get("Retry-After"); ra != tt.want {
				t.Errorf("Retry-After %q, want %s", ra, tt.want)
			}
		}
		time.Sleep(time.Millisecond)
		if res := serve(mw, get("192.0.2.1:1")); res.code != http.StatusNoContent {
			t.Errorf("at the retry time: %d", res.code)
		}
	})
}

func TestMiddlewareDegradation(t *testing.T) {
	for _, tt := range []struct {
		degradation grelratelimit.Degradation
		code        int
	}{{grelratelimit.FailOpen, http.StatusNoContent}, {grelratelimit.FailClosed, http.StatusServiceUnavailable}, {grelratelimit.FallbackLocal, http.StatusNoContent}} {
		t.Run(string(tt.degradation), func(t *testing.T) {
			f := newFlaky()
			f.state.Store(1)
			l := mustNew(t, "api", f, grelratelimit.WithDegradation(tt.degradation))
			res := serve(grelratelimit.Middleware(l), get("192.0.2.1:1"))
			if res.code != tt.code {
				t.Fatalf("status %d, want %d", res.code, tt.code)
			}
			fields(t, res.header)
			if tt.code == http.StatusServiceUnavailable {
				checkProblem(t, res, tt.code, grelratelimit.ProblemReducedCapacity)
				if res.header.Get("Retry-After") != "1" {
					t.Errorf("Retry-After %q, want 1 (the probe interval)", res.header.Get("Retry-After"))
				}
			}
		})
	}
}

func TestMiddlewareExemptAndGone(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory())
	exempt := grelratelimit.Middleware(l, grelratelimit.WithKey(func(*http.Request) (string, bool) { return "", false }))
	if res := serve(exempt, get("192.0.2.1:1")); !res.handled || res.header.Get("RateLimit") != "" {
		t.Errorf("an exempt request: handled %v, RateLimit %q", res.handled, res.header.Get("RateLimit"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := serve(grelratelimit.Middleware(l), get("192.0.2.1:1").WithContext(ctx))
	if res.handled || res.body != "" || res.header.Get("RateLimit") != "" {
		t.Errorf("a request whose client is gone: %+v, want nothing written", res)
	}
}

func TestMiddlewareFollowsReconfigure(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithBurst(5))
	mw := grelratelimit.Middleware(l, grelratelimit.WithPolicyName(`per "client"`))
	_, policy := fields(t, serve(mw, get("192.0.2.1:1")).header)
	if policy.value != `per "client"` || policy.params["q"] != int64(5) {
		t.Errorf("policy %v", policy)
	}
	cfg := l.Config()
	cfg.Burst = 8
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if _, policy := fields(t, serve(mw, get("192.0.2.1:1")).header); policy.params["q"] != int64(8) {
		t.Errorf("after Reconfigure, q = %v, want 8", policy.params["q"])
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := grelratelimit.ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		header  string
		values  []string
		trusted []netip.Prefix
		want    string
	}{
		{"peer without proxies", "203.0.113.9:5000", "X-Forwarded-For", []string{"1.1.1.1"}, nil, "203.0.113.9"},
		{"untrusted peer: header ignored", "203.0.113.9:5000", "X-Forwarded-For", []string{"1.1.1.1"}, trusted, "203.0.113.9"},
		{"trusted peer, no header", "10.1.1.1:80", "X-Forwarded-For", nil, trusted, "10.1.1.1"},
		{"rightmost untrusted hop", "10.1.1.1:80", "X-Forwarded-For", []string{"6.6.6.6, 198.51.100.4, 10.2.2.2"}, trusted, "198.51.100.4"},
		{"several field lines", "10.1.1.1:80", "X-Forwarded-For", []string{"6.6.6.6", "198.51.100.4", "10.2.2.2"}, trusted, "198.51.100.4"},
		{"all trusted: the leftmost", "10.1.1.1:80", "X-Forwarded-For", []string{"10.3.3.3, 192.0.2.7"}, trusted, "10.3.3.3"},
		{"garbage stops at the last trusted hop", "10.1.1.1:80", "X-Forwarded-For", []string{"6.6.6.6, nonsense, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"ports and mapped addresses", "[::ffff:10.1.1.1]:80", "X-Forwarded-For", []string{"198.51.100.4:4711"}, trusted, "198.51.100.4"},
		{"ipv6", "[2001:db8::1]:443", "X-Forwarded-For", []string{"2001:db8:1::9, [2001:db8::2]:80"}, trusted, "2001:db8:1::9"},
		{"ipv6 outside the prefix", "[2001:db8::1]:443", "X-Forwarded-For", []string{"2001:dead::5"}, trusted, "2001:dead::5"},
		{"forwarded", "10.1.1.1:80", "Forwarded", []string{`for=6.6.6.6, for=198.51.100.4;proto=https, for="[2001:db8::3]:80";by=x`}, trusted, "198.51.100.4"},
		{"forwarded quoted separators", "10.1.1.1:80", "Forwarded", []string{`for="198.51.100.4:80";host="a,b;c", For=10.9.9.9`}, trusted, "198.51.100.4"},
		{"forwarded hidden identifier", "10.1.1.1:80", "Forwarded", []string{`for=6.6.6.6, for=_hidden, for=10.2.2.2`}, trusted, "10.2.2.2"},
		{"forwarded element without for", "10.1.1.1:80", "Forwarded", []string{`for=6.6.6.6, proto=http`}, trusted, "10.1.1.1"},
		{"the other header is not read", "10.1.1.1:80", "Forwarded", nil, trusted, "10.1.1.1"},
		{"single-address header", "10.1.1.1:80", "X-Real-IP", []string{"6.6.6.6", "198.51.100.4"}, trusted, "198.51.100.4"},
		{"unparsable peer", "@unix", "X-Forwarded-For", []string{"1.1.1.1"}, trusted, "@unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(tt.remote)
			for _, v := range tt.values {
				r.Header.Add(tt.header, v)
			}
			if tt.name == "the other header is not read" {
				r.Header.Set("X-Forwarded-For", "6.6.6.6")
			}
			if got := grelratelimit.ClientIP(r, tt.trusted, tt.header); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClientIPKeyUsesTheLimitersConfig(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithTrustedProxies("10.0.0.0/8"))
	r := get("10.1.1.1:80")
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	if k, ok := l.ClientIPKey()(r); !ok || k != "198.51.100.4" {
		t.Errorf("key %q", k)
	}
	cfg := l.Config()
	cfg.TrustedProxies = nil
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if k, _ := l.ClientIPKey()(r); k != "10.1.1.1" {
		t.Errorf("after removing the proxies, key %q, want the peer", k)
	}
}

func TestKeyFuncs(t *testing.T) {
	user := grelratelimit.KeyByUser(func(r *http.Request) (string, bool) {
		u := r.Header.Get("X-User")
		return u, u != ""
	})
	ip := grelratelimit.KeyByClientIP(nil, "")
	r := get("192.0.2.1:1")
	r.Header.Set("X-Api-Key", "k-1")
	for _, tt := range []struct {
		name string
		f    grelratelimit.KeyFunc
		want string
		ok   bool
	}{
		{"header", grelratelimit.KeyByHeader("X-Api-Key"), "k-1", true},
		{"missing header", grelratelimit.KeyByHeader("X-Other"), "", false},
		{"user missing", user, "", false},
		{"first: falls back to the address", grelratelimit.KeyFirst(user, ip), "192.0.2.1", true},
		{"route without a mux", grelratelimit.KeyByRoute(), "GET /items/1", true},
		{"join", grelratelimit.KeyJoin(grelratelimit.KeyByRoute(), ip), "GET /items/1|192.0.2.1", true},
		{"join with a missing part", grelratelimit.KeyJoin(ip, user), "", false},
		{"first of none", grelratelimit.KeyFirst(), "", false},
	} {
		if k, ok := tt.f(r); k != tt.want || ok != tt.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, k, ok, tt.want, tt.ok)
		}
	}
	r.Header.Set("X-User", "ada")
	if k, _ := grelratelimit.KeyFirst(user, ip)(r); k != "user:ada" {
		t.Errorf("signed in: %q, want user:ada", k)
	}
}

func TestKeyByRouteSharesARoute(t *testing.T) {
	l := mustNew(t, "api", grelratelimit.NewMemory(), grelratelimit.WithBurst(2), grelratelimit.WithRate(1), grelratelimit.WithPeriod(time.Hour))
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", grelratelimit.Middleware(l, grelratelimit.WithKey(grelratelimit.KeyByRoute()))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	codes := []int{}
	for _, path := range []string{"/items/1", "/items/2", "/items/3"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		codes = append(codes, rec.Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("codes %v, want the route's burst of 2 shared by every id", codes)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.1.1.1:80", "X-Forwarded-For", "6.6.6.6, 198.51.100.4")
	f.Add("10.1.1.1:80", "Forwarded", `for="[2001:db8::3]:80";by=x, for=_x;a="\"q\""`)
	f.Add("[::1]:1", "Forwarded", `for=";,", for="\`)
	trusted, _ := grelratelimit.ParsePrefixes([]string{"10.0.0.0/8", "::1"})
	f.Fuzz(func(t *testing.T, remote, header, value string) {
		if header == "" || strings.ContainsAny(header, "\r\n: ") {
			header = "X-Forwarded-For"
		}
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Add(header, value)
		got := grelratelimit.ClientIP(r, trusted, header)
		if got == remote {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("ClientIP = %q: not a canonical address (remote %q)", got, remote)
		}
	})
}

func FuzzPolicyName(f *testing.F) {
	f.Add("api")
	f.Add(`a "quoted" \ name`)
	f.Add("naïve\x00\x7f")
	f.Fuzz(func(t *testing.T, name string) {
		l, err := grelratelimit.NewFromConfig("api", grelratelimit.NewMemory(), grelratelimit.DefaultConfig(grelratelimit.TokenBucket))
		if err != nil {
			t.Fatal(err)
		}
		res := serve(grelratelimit.Middleware(l, grelratelimit.WithPolicyName(name)), get("192.0.2.1:1"))
		limit, _ := fields(t, res.header)
		want := strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return -1
			}
			return r
		}, name)
		if want == "" {
			want = "default"
		}
		if limit.value != want {
			t.Fatalf("policy name %q parsed back as %q, want %q", name, limit.value, want)
		}
	})
}
