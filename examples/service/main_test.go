package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/grelmicro/grelmicro-go/fxgrel"
	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if binary != "" {
			_ = os.RemoveAll(filepath.Dir(binary))
		}
	}))
}

// --- in process -----------------------------------------------------------

// response is what get read of a response.
type response struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, url string, header http.Header) (response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{StatusCode: resp.StatusCode, Header: resp.Header}, body
}

func testRoutes() []Route {
	return []Route{
		{Pattern: "GET /hello/{name}", Doc: "greets", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"hello": r.PathValue("name")})
		})},
		{Pattern: "GET /fail", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "broken", http.StatusServiceUnavailable)
		})},
	}
}

func TestServerMountsRoutesAndTracesRequests(t *testing.T) {
	var (
		srv   *Server
		spans *tracetest.SpanRecorder
	)
	opts := append([]fx.Option{serverModule, provideRoutes(testRoutes), fx.Populate(&srv, &spans)}, patterns...)
	fxgreltest.Start(t, map[string]string{"GREL_HTTP_ADDR": "127.0.0.1:0"}, opts...)
	base := "http://" + srv.Addr().String()

	resp, body := get(t, base+"/", nil)
	var index struct {
		Service string
		Routes  []indexRoute
	}
	if err := json.Unmarshal(body, &index); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("index: %d %q %v", resp.StatusCode, body, err)
	}
	// The index lists the test's routes among the patterns' own, sorted.
	want := []indexRoute{{"GET /fail", ""}, {"GET /hello/{name}", "greets"}, {"GET /{$}", "this index of routes"}}
	for _, w := range want {
		if !slices.Contains(index.Routes, w) {
			t.Errorf("index lacks %+v: %+v", w, index.Routes)
		}
	}
	if !slices.IsSortedFunc(index.Routes, func(a, b indexRoute) int { return strings.Compare(a.Pattern, b.Pattern) }) {
		t.Errorf("index not sorted: %+v", index.Routes)
	}

	// A request continues the caller's trace.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	h := http.Header{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), parent), propagation.HeaderCarrier(h))
	if resp, body := get(t, base+"/hello/ann", h); resp.StatusCode != 200 || !strings.Contains(string(body), `"hello": "ann"`) {
		t.Errorf("hello: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"/fail", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("fail: %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/nowhere", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}

	ended := spans.Ended()
	byName := map[string]int{}
	for i, s := range ended {
		byName[s.Name()] = i
	}
	hello, ok := byName["GET /hello/{name}"]
	if !ok {
		t.Fatalf("no span for the hello route in %v", names(ended))
	}
	if s := ended[hello]; s.Parent().TraceID() != parent.TraceID() || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("hello span: parent %v kind %v", s.Parent(), s.SpanKind())
	}
	if s := ended[byName["GET /fail"]]; s.Status().Code != codes.Error {
		t.Errorf("5xx span status %v", s.Status())
	}
	if _, ok := byName["GET"]; !ok {
		t.Errorf("the unmatched request has no span named after its method: %v", names(ended))
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// serverModuleDeps is fxgrel over a map, for the tests that expect fx.New to
// fail (fxgreltest fails the test instead).
func serverModuleDeps(env ...map[string]string) fx.Option {
	var m map[string]string
	if len(env) > 0 {
		m = env[0]
	}
	return fx.Options(fxgrel.Module, fxgrel.WithSource(grelconfig.Map(m)))
}

func TestServerRefusesConflictingRoutes(t *testing.T) {
	dup := func() []Route { return []Route{{Pattern: "GET /x", Handler: http.NotFoundHandler()}} }
	app := fx.New(fx.NopLogger, serverModuleDeps(), serverModule, provideRoutes(dup), provideRoutes(dup), fx.Invoke(func(*Server) {}))
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), `route "GET /x"`) {
		t.Errorf("fx.New error %v", err)
	}
}

func TestServerRefusesBadAddr(t *testing.T) {
	for _, addr := range []string{"no-port-here", "127.0.0.1:99999", "127.0.0.1:http"} {
		app := fx.New(fx.NopLogger, serverModuleDeps(map[string]string{"GREL_HTTP_ADDR": addr}), serverModule, fx.Invoke(func(*Server) {}))
		err := app.Err()
		if err == nil || !strings.Contains(err.Error(), "GREL_HTTP_ADDR") || strings.Contains(err.Error(), addr) {
			t.Errorf("GREL_HTTP_ADDR=%s: error %v", addr, err)
		}
	}
}

func TestServerStartFailsWhenThePortIsTaken(t *testing.T) {
	var first *Server
	fxgreltest.Start(t, map[string]string{"GREL_HTTP_ADDR": "127.0.0.1:0"}, serverModule, fx.Populate(&first))
	app := fxgreltest.New(t, map[string]string{"GREL_HTTP_ADDR": first.Addr().String()}, serverModule, fx.Invoke(func(*Server) {}))
	err := app.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GREL_HTTP_ADDR") || strings.Contains(err.Error(), first.Addr().String()) {
		t.Errorf("start error %v", err)
	}
	_ = app.Stop(context.Background())
}

// --- the binary -------------------------------------------------------------

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// serviceBinary builds the service once for the binary tests.
func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "grel-service-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "service")
		out, err := exec.Command(goTool(), "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binary
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// hermeticEnv is the process environment without GREL_*, OTEL_*, NO_COLOR
// and the store variables, plus env.
func hermeticEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GREL_") || strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "NO_COLOR=") ||
			strings.HasPrefix(kv, "REDIS_") || strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "POSTGRES_URL=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

var listening = regexp.MustCompile(`"msg":"http server listening","addr":"([^"]+)"`)

// service is the binary running in a test.
type service struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error

	mu   sync.Mutex
	logs bytes.Buffer
}

// startService runs the binary on a free port with the JSON log format and
// env, and waits until it listens.
func startService(t *testing.T, env ...string) *service {
	t.Helper()
	cmd := exec.Command(serviceBinary(t))
	cmd.Dir = t.TempDir() // the SQLite default, ./grelmicro.db, lands there
	cmd.Env = hermeticEnv(append([]string{"GREL_HTTP_ADDR=127.0.0.1:0", "GREL_LOG_FORMAT=json"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		s.exited <- cmd.Wait()
	}()
	select {
	case s.addr = <-addr:
		return s
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Logf("killed: %v", <-s.exited)
		t.Fatalf("the service did not start:\n%s", s.log())
	}
	return nil
}

func (s *service) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// wait waits for the process to exit, killing it after limit.
func (s *service) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-s.exited:
		return err
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		t.Logf("killed: %v", <-s.exited)
		t.Fatalf("still running %v after the signal:\n%s", limit, s.log())
	}
	return nil
}

func TestBinaryStopsCleanlyOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startService(t)
			if resp, body := get(t, "http://"+s.addr+"/", nil); resp.StatusCode != 200 || !strings.Contains(string(body), "GET /{$}") {
				t.Errorf("index: %d %s", resp.StatusCode, body)
			}
			start := time.Now()
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := s.wait(t, 10*time.Second); err != nil {
				t.Errorf("exit after %v: %v\n%s", sig, err, s.log())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stopped in %v, want within 5s", d)
			}
			for _, want := range []string{`"msg":"stopping","signal":"` + sig.String() + `","timeout":"5s"`, `"msg":"http server stopped"`} {
				if !strings.Contains(s.log(), want) {
					t.Errorf("the log lacks %s:\n%s", want, s.log())
				}
			}
		})
	}
}

// TestBinaryDrainsBeforeStopping: with GREL_HEALTH_DRAIN_DELAY set, /readyz
// answers 503 (and /livez still 200) for the delay after the signal, then
// the server stops cleanly and the process exits 0, within a stop budget
// that holds the delay. 6s is the delay that used to break the stop (a
// fixed 5s budget: exit 1 after 5s, "context deadline exceeded").
func TestBinaryDrainsBeforeStopping(t *testing.T) {
	for _, tt := range []struct {
		delay  time.Duration
		budget string // the stop timeout the service derives
	}{
		{time.Second, "6s"},
		{6 * time.Second, "11s"},
	} {
		t.Run(tt.delay.String(), func(t *testing.T) {
			s := startService(t, "GREL_HEALTH_DRAIN_DELAY="+tt.delay.String())
			base := "http://" + s.addr
			if resp, _ := get(t, base+"/readyz", nil); resp.StatusCode != 200 {
				t.Fatalf("/readyz before the signal: %d", resp.StatusCode)
			}
			start := time.Now()
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// Poll /readyz until the drain has turned it to 503.
			var draining time.Duration
			for time.Since(start) < tt.delay {
				if code := probe(base + "/readyz"); code == http.StatusServiceUnavailable {
					draining = time.Since(start)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if draining == 0 {
				t.Fatalf("/readyz never answered 503 during the %v drain:\n%s", tt.delay, s.log())
			}
			if code := probe(base + "/livez"); code != http.StatusOK {
				t.Errorf("/livez during the drain = %d, want 200", code)
			}
			if err := s.wait(t, tt.delay+10*time.Second); err != nil {
				t.Fatalf("exit: %v, want 0\n%s", err, s.log())
			}
			if took := time.Since(start); took < tt.delay || took > tt.delay+3*time.Second {
				t.Errorf("stopped %v after the signal, want the %v drain and then a prompt stop", took, tt.delay)
			}
			log := s.log()
			for _, want := range []string{`"timeout":"` + tt.budget + `"`, `"msg":"draining: readiness is now failing"`, `"msg":"http server stopped"`} {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %s:\n%s", want, log)
				}
			}
			for _, bad := range []string{"cut short", `"level":"error"`} {
				if strings.Contains(log, bad) {
					t.Errorf("the log has %q:\n%s", bad, log)
				}
			}
		})
	}
}

// probe returns the status code of a GET, or 0 when the request fails.
func probe(url string) int {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestBinaryDescribe(t *testing.T) {
	cmd := exec.Command(serviceBinary(t), "--describe")
	cmd.Dir = t.TempDir() // the SQLite default, ./grelmicro.db, lands there
	cmd.Env = hermeticEnv("GREL_HTTP_ADDR=127.0.0.1:9", "OTEL_EXPORTER_OTLP_HEADERS=api-key=very-secret")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"VARIABLE", "GREL_HTTP_ADDR", "127.0.0.1:9", "GREL_LOG_LEVEL", "OTEL_TRACES_EXPORTER", "<redacted>"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "very-secret") {
		t.Error("describe printed a secret")
	}
	if strings.Contains(stderr.String(), "listening") {
		t.Error("--describe started the server")
	}
}

func TestBinaryRefusesBadValues(t *testing.T) {
	for _, tt := range []struct{ variable, value string }{
		{"GREL_LOG_LEVEL", "verbose"},
		{"GREL_HTTP_ADDR", "not-an-address"},
		{"GREL_HTTP_SHUTDOWN_TIMEOUT", "whenever"},
		{"OTEL_TRACES_EXPORTER", "carrier-pigeon"},
	} {
		t.Run(tt.variable, func(t *testing.T) {
			cmd := exec.Command(serviceBinary(t))
			cmd.Dir = t.TempDir() // the SQLite default, ./grelmicro.db, lands there
			cmd.Env = hermeticEnv(tt.variable + "=" + tt.value)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want code 1\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.variable) {
				t.Errorf("output does not name %s:\n%s", tt.variable, out)
			}
			if strings.Contains(string(out), tt.value) {
				t.Errorf("output contains the value %q:\n%s", tt.value, out)
			}
		})
	}
}
