package grelhealth_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// goldenChecker registers the checks of the golden bodies: a passing
// non-critical check with details (2ms), a failing critical one (5ms) and a
// liveness check.
func goldenChecker(t *testing.T) *grelhealth.Checker {
	c := newChecker(t)
	mustRegister(t, c,
		grelhealth.Check{Name: "cache", NonCritical: true, DetailFunc: func(context.Context) (map[string]any, error) {
			time.Sleep(2 * time.Millisecond)
			return map[string]any{"hits": 10, "backend": "redis"}, nil
		}},
		grelhealth.Check{Name: "db", Func: func(context.Context) error {
			time.Sleep(5 * time.Millisecond)
			return errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
		}},
	)
	if err := c.RegisterLiveness(grelhealth.Check{Name: "loop", Func: pass}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHealthzGolden pins the JSON body of /healthz byte for byte. Under
// synctest the clock starts at 2000-01-01T00:00:00Z and the checks take
// exactly their sleeps. go test ./health -run Golden -update rewrites them.
func TestHealthzGolden(t *testing.T) {
	tests := []struct {
		golden string
		target string
		auth   bool
		code   int
	}{
		{"healthz_public.golden", "/healthz", false, 503},
		{"healthz_authorized.golden", "/healthz", true, 503},
		{"healthz_exclude.golden", "/healthz?exclude=db&exclude=loop,nope,,n%22pe", true, 200},
		{"healthz_one.golden", "/healthz/cache", true, 200},
		{"healthz_one_failing.golden", "/healthz/db", false, 503},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := goldenChecker(t)
				h := mux(grelhealth.NewHandler(c, grelhealth.WithAuthorizer(grelhealth.BearerToken("t0ken"))))
				hdr := []string{}
				if tt.auth {
					hdr = []string{"Authorization", "Bearer t0ken"}
				}
				rec := serve(h, http.MethodGet, tt.target, hdr...)
				if rec.Code != tt.code {
					t.Fatalf("%s = %d, want %d", tt.target, rec.Code, tt.code)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type = %q", ct)
				}
				path := filepath.Join("testdata", tt.golden)
				if *update {
					if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if rec.Body.String() != string(want) {
					t.Fatalf("%s body:\n%s\nwant (%s):\n%s", tt.target, rec.Body, path, want)
				}
			})
		})
	}
}

// TestHealthzSchema checks the documented schema independently of the
// golden bytes: the keys of the report and of each entry, and that error and
// details are present only for authorized callers.
func TestHealthzSchema(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := goldenChecker(t)
		h := mux(grelhealth.NewHandler(c, grelhealth.WithAuthorizer(func(r *http.Request) bool { return r.Header.Get("X-Ops") == "1" })))
		for _, auth := range []bool{false, true} {
			var hdr []string
			if auth {
				hdr = []string{"X-Ops", "1"}
			}
			rec := serve(h, http.MethodGet, "/healthz?exclude=nope", hdr...)
			var body map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if got := keys(body); !slices.Equal(got, []string{"checks", "draining", "status", "unknown_excluded"}) {
				t.Fatalf("report keys = %v", got)
			}
			var checks map[string]map[string]any
			if err := json.Unmarshal(body["checks"], &checks); err != nil {
				t.Fatal(err)
			}
			if got := keys(checks); !slices.Equal(got, []string{"cache", "db", "loop"}) {
				t.Fatalf("checks = %v", got)
			}
			base := []string{"critical", "duration", "kind", "status", "timestamp"}
			wants := map[string][]string{"cache": base, "db": base, "loop": base}
			if auth {
				wants["cache"] = []string{"critical", "details", "duration", "kind", "status", "timestamp"}
				wants["db"] = []string{"critical", "duration", "error", "kind", "status", "timestamp"}
			}
			for name, want := range wants {
				if got := keys(checks[name]); !slices.Equal(got, want) {
					t.Errorf("auth=%v: %s keys = %v, want %v", auth, name, got, want)
				}
			}
			if d, err := time.ParseDuration(checks["db"]["duration"].(string)); err != nil || d != 5*time.Millisecond {
				t.Errorf("db duration = %v (%v)", checks["db"]["duration"], err)
			}
			if ts, err := time.Parse(time.RFC3339Nano, checks["db"]["timestamp"].(string)); err != nil || ts.IsZero() {
				t.Errorf("db timestamp = %v (%v)", checks["db"]["timestamp"], err)
			}
		}
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestMethodsAndHeaders(t *testing.T) {
	c := newChecker(t)
	mustRegister(t, c, grelhealth.Check{Name: "db", Func: pass})
	h := mux(grelhealth.NewHandler(c))
	for _, target := range []string{"/livez", "/readyz", "/healthz", "/readyz/db", "/healthz/db", "/readyz/nope", "/healthz/nope", "/livez/db"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			rec := serve(h, method, target)
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s %s: Cache-Control = %q", method, target, got)
			}
			unknown := strings.HasSuffix(target, "nope") || target == "/livez/db"
			switch {
			case method != http.MethodGet && method != http.MethodHead:
				if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("%s %s = %d, Allow %q; want 405, GET, HEAD", method, target, rec.Code, rec.Header().Get("Allow"))
				}
			case unknown:
				if rec.Code != 404 {
					t.Errorf("%s %s = %d, want 404", method, target, rec.Code)
				}
			default:
				if rec.Code != 200 {
					t.Errorf("%s %s = %d, want 200", method, target, rec.Code)
				}
			}
			if method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD %s has a body: %q", target, rec.Body)
			}
		}
	}
	for _, target := range []string{"/readyz", "/livez", "/readyz/db"} {
		if rec := serve(h, http.MethodGet, target); rec.Body.Len() != 0 {
			t.Errorf("GET %s body = %q, want empty", target, rec.Body)
		}
	}
}

// TestExclude: excluded checks are not run; unknown names are reported,
// never ignored.
func TestExclude(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each run takes 1ms of fake time, so that with TTL 0 a row's result
		// is never the next row's.
		c := newChecker(t, grelhealth.WithTTL(0))
		var a, b, nc atomic.Int64
		mustRegister(t, c, countingCheck("a", &a, time.Millisecond, nil), countingCheck("b", &b, time.Millisecond, errors.New("down")))
		n := countingCheck("nc", &nc, time.Millisecond, nil)
		n.NonCritical = true
		mustRegister(t, c, n)
		h := mux(grelhealth.NewHandler(c))

		tests := []struct {
			target      string
			code        int
			wantA       int64 // calls added
			wantB       int64
			warnings    []string
			bodyHas     []string
			bodyHasNot  []string
			contentType string
		}{
			{target: "/readyz", code: 503, wantA: 1, wantB: 1},
			{target: "/readyz?exclude=b", code: 200, wantA: 1},
			{target: "/readyz?exclude=a,b", code: 200},
			{target: "/readyz?exclude=a&exclude=b", code: 200},
			{target: "/readyz?exclude=%20a%20,%20b%20", code: 200},
			{target: "/readyz?exclude=b,ghost&exclude=zz", code: 200, wantA: 1,
				warnings: []string{`299 - "grelhealth: unknown check in exclude: ghost"`, `299 - "grelhealth: unknown check in exclude: zz"`}},
			{target: "/livez?exclude=ghost", code: 200,
				warnings: []string{`299 - "grelhealth: unknown check in exclude: ghost"`}},
			{target: "/readyz?exclude=b&exclude=gh%22o%0Ast&verbose", code: 200, wantA: 1,
				warnings:    []string{`299 - "grelhealth: unknown check in exclude: gh?o?st"`},
				bodyHas:     []string{"[+]a ok\n", "[+]b excluded\n", "warn: unknown check in exclude: \"gh?o?st\"\n", "readyz check passed\n"},
				contentType: "text/plain; charset=utf-8"},
			{target: "/healthz?exclude=b,ghost", code: 200, wantA: 1,
				bodyHas: []string{`"excluded":["b"]`, `"unknown_excluded":["ghost"]`}, bodyHasNot: []string{`"b":{`}, contentType: "application/json"},
			{target: "/healthz?exclude=nc", code: 503, wantA: 1, wantB: 1, bodyHas: []string{`"excluded":["nc"]`}},
		}
		for _, tt := range tests {
			a0, b0 := a.Load(), b.Load()
			rec := serve(h, http.MethodGet, tt.target)
			// /readyz answers at the first failure; the other runs end
			// after it.
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if rec.Code != tt.code {
				t.Errorf("%s = %d, want %d", tt.target, rec.Code, tt.code)
			}
			if da, db := a.Load()-a0, b.Load()-b0; da != tt.wantA || db != tt.wantB {
				t.Errorf("%s ran a %d and b %d times, want %d and %d", tt.target, da, db, tt.wantA, tt.wantB)
			}
			if got := rec.Header().Values("Warning"); !slices.Equal(got, tt.warnings) {
				t.Errorf("%s Warning = %q, want %q", tt.target, got, tt.warnings)
			}
			for _, s := range tt.bodyHas {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("%s body %q lacks %q", tt.target, rec.Body, s)
				}
			}
			for _, s := range tt.bodyHasNot {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("%s body %q has %q", tt.target, rec.Body, s)
				}
			}
			if tt.contentType != "" && rec.Header().Get("Content-Type") != tt.contentType {
				t.Errorf("%s Content-Type = %q", tt.target, rec.Header().Get("Content-Type"))
			}
		}
		if nc.Load() != 1 {
			t.Errorf("the non-critical check ran %d times: /readyz must not run it, /healthz once", nc.Load())
		}
		// Many unknown names: only the first 16 are echoed.
		rec := serve(h, http.MethodGet, "/readyz?exclude="+strings.Repeat("x,", 100)+strings.Repeat("y", 500))
		if n := len(rec.Header().Values("Warning")); n != 2 {
			t.Errorf("%d Warning headers for 2 distinct unknown names", n)
		}
		if w := rec.Header().Values("Warning")[1]; len(w) > 200 {
			t.Errorf("an unknown name is echoed at length: %d bytes", len(w))
		}
	})
}

func TestVerbose(t *testing.T) {
	c := newChecker(t)
	mustRegister(t, c,
		grelhealth.Check{Name: "a", Func: pass},
		grelhealth.Check{Name: "b", Func: func(context.Context) error { return errors.New("refused\nsecond line") }},
	)
	h := mux(grelhealth.NewHandler(c, grelhealth.WithAuthorizer(grelhealth.BearerToken("s"))))
	tests := []struct {
		target string
		auth   bool
		code   int
		body   string
	}{
		{"/readyz?verbose", false, 503, "[+]a ok\n[-]b failed: reason withheld\nreadyz check failed\n"},
		{"/readyz?verbose=1", true, 503, "[+]a ok\n[-]b failed: refused; second line\nreadyz check failed\n"},
		{"/readyz?verbose=false", true, 503, ""},
		{"/readyz?verbose&exclude=b", false, 200, "[+]a ok\n[+]b excluded\nreadyz check passed\n"},
		{"/livez?verbose", false, 200, "livez check passed\n"},
		{"/readyz/b?verbose", false, 503, "[-]b failed: reason withheld\n"},
		{"/readyz/b?verbose", true, 503, "[-]b failed: refused; second line\n"},
		{"/readyz/a?verbose", false, 200, "[+]a ok\n"},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.auth {
			hdr = []string{"Authorization", "Bearer s"}
		}
		rec := serve(h, http.MethodGet, tt.target, hdr...)
		if rec.Code != tt.code || rec.Body.String() != tt.body {
			t.Errorf("%s (auth %v) = %d %q, want %d %q", tt.target, tt.auth, rec.Code, rec.Body, tt.code, tt.body)
		}
	}
}

func TestBearerToken(t *testing.T) {
	allow := grelhealth.BearerToken("s3cret")
	for hdr, want := range map[string]bool{"Bearer s3cret": true, "Bearer s3cre": false, "bearer s3cret": false, "": false, "Bearer s3cret ": false} {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if hdr != "" {
			r.Header.Set("Authorization", hdr)
		}
		if got := allow(r); got != want {
			t.Errorf("Authorization %q: %v, want %v", hdr, got, want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	r.Header.Set("Authorization", "Bearer ")
	if grelhealth.BearerToken("")(r) {
		t.Error("an empty token allows")
	}
}

// TestOneCheckAnyMux: the single-check endpoints take the name from the
// path value, or else from the last path segment (routers without path
// values, http.StripPrefix).
func TestOneCheckAnyMux(t *testing.T) {
	c := newChecker(t)
	mustRegister(t, c,
		grelhealth.Check{Name: "ok", Func: pass},
		grelhealth.Check{Name: "redis:cache", Func: pass},
		grelhealth.Check{Name: "bad", Func: func(context.Context) error { return errors.New("x") }, NonCritical: true},
	)
	h := grelhealth.NewHandler(c)
	plain := http.NewServeMux()
	plain.Handle("/ops/ready/", h.ReadyzCheck())
	plain.Handle("/ops/health/", h.HealthzCheck())
	tests := []struct {
		handler http.Handler
		target  string
		code    int
	}{
		{plain, "/ops/ready/ok", 200},
		{plain, "/ops/ready/ok/", 200},
		{plain, "/ops/ready/bad", 503}, // a check alone fails even when non-critical
		{plain, "/ops/ready/nope", 404},
		{plain, "/ops/health/bad", 503},
		{mux(h), "/readyz/ok", 200},
		{mux(h), "/readyz/redis:cache", 200},
		{mux(h), "/healthz/redis:cache", 200},
		{mux(h), "/readyz?exclude=redis:cache,ok", 200},
		{mux(h), "/readyz/ok/extra", 404},
		{http.StripPrefix("/x", h.ReadyzCheck()), "/x/ok", 200},
	}
	for _, tt := range tests {
		if rec := serve(tt.handler, http.MethodGet, tt.target); rec.Code != tt.code {
			t.Errorf("%s = %d, want %d", tt.target, rec.Code, tt.code)
		}
	}
	if rec := serve(mux(h), http.MethodGet, "/readyz"); rec.Code != 200 {
		t.Errorf("/readyz with only a non-critical failure = %d", rec.Code)
	}
}

func TestClientGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t)
		mustRegister(t, c, grelhealth.Check{Name: "slow", Func: func(ctx context.Context) error { time.Sleep(time.Second); return nil }})
		h := mux(grelhealth.NewHandler(c))
		for _, target := range []string{"/readyz", "/readyz?verbose", "/healthz", "/readyz/slow"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			cancel()
			if rec.Code != 503 || time.Since(start) != 10*time.Millisecond {
				t.Errorf("%s with the client gone = %d after %v", target, rec.Code, time.Since(start))
			}
		}
	})
}

// TestReadyzAllocs: /readyz on cached results allocates nothing in the
// handler (the writer here is reused, as a server's would be per request).
func TestReadyzAllocs(t *testing.T) {
	c := newChecker(t, grelhealth.WithTTL(time.Hour))
	mustRegister(t, c, grelhealth.Check{Name: "a", Func: pass}, grelhealth.Check{Name: "b", Func: pass})
	h := grelhealth.NewHandler(c).Readyz()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	w := &headerWriter{hdr: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != 200 {
		t.Fatalf("/readyz = %d", w.code)
	}
	if n := testing.AllocsPerRun(1000, func() { clear(w.hdr); h.ServeHTTP(w, req) }); n != 0 {
		t.Fatalf("/readyz allocates %v per request", n)
	}
	// Add on one answer's header does not reach the next answer.
	w.hdr.Add("Cache-Control", "private")
	if rec := serve(h, http.MethodGet, "/readyz"); rec.Header().Values("Cache-Control")[0] != "no-store" || len(rec.Header().Values("Cache-Control")) != 1 {
		t.Fatalf("Cache-Control = %q", rec.Header().Values("Cache-Control"))
	}
}

type headerWriter struct {
	hdr  http.Header
	code int
}

func (w *headerWriter) Header() http.Header         { return w.hdr }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerWriter) WriteHeader(code int)        { w.code = code }

// rewriteCacheControl is a middleware that edits the Cache-Control value in
// place once the handler has set it, as some proxies' header filters do.
func rewriteCacheControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if v := w.Header()["Cache-Control"]; len(v) > 0 {
			v[0] = "public, max-age=60"
		}
	})
}

// TestCacheControlNotShared: a response's Cache-Control value belongs to
// that response; editing it in place changes no other answer.
func TestCacheControlNotShared(t *testing.T) {
	c := newChecker(t, grelhealth.WithTTL(time.Hour))
	mustRegister(t, c, grelhealth.Check{Name: "db", Func: pass})
	h := grelhealth.NewHandler(c)
	m := mux(h)
	edited := rewriteCacheControl(m)
	for _, target := range []string{"/readyz", "/livez", "/healthz", "/readyz/db", "/readyz?verbose", "/readyz/nope"} {
		if rec := serve(edited, http.MethodGet, target); rec.Header().Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("%s through the middleware: Cache-Control = %q", target, rec.Header().Get("Cache-Control"))
		}
		for _, next := range []string{"/readyz", "/livez", "/healthz", "/readyz/db", "/readyz?verbose", "/readyz/nope"} {
			if got := serve(m, http.MethodGet, next).Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
				t.Fatalf("%s after an in-place edit of %s's header: Cache-Control = %q", next, target, got)
			}
		}
	}
}

// BenchmarkReadyzHandler: /readyz on cached results through the handler,
// with a reused writer (as a server reuses its per-connection state), to
// count what the handler itself allocates.
func BenchmarkReadyzHandler(b *testing.B) {
	c, err := grelhealth.NewFromConfig(grelhealth.Config{Timeout: 5 * time.Second, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Stop(context.Background()) }()
	for _, name := range []string{"cache", "db", "queue"} {
		if err := c.Register(grelhealth.Check{Name: name, Func: pass}); err != nil {
			b.Fatal(err)
		}
	}
	h := grelhealth.NewHandler(c).Readyz()
	var bad atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		w := &headerWriter{hdr: http.Header{}}
		for pb.Next() {
			clear(w.hdr)
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				bad.Add(1)
			}
		}
	})
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d answers were not 200", n)
	}
}
