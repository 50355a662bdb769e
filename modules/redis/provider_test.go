package grelredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestConnectAndPing(t *testing.T) {
	env := testenv.Redis(t)
	p, err := New("", WithURL(env.URL))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	if err := p.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	key := env.Prefix + "k"
	if err := p.Client().Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Client().Get(ctx, key).Result(); err != nil || got != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	providertest.RequireStopped(t, p, ErrStopped)
	if err := p.Client().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("owned client after Stop: Ping = %v, want redis.ErrClosed", err)
	}
}

func TestNewReadsVendorVariables(t *testing.T) {
	env := testenv.Redis(t)
	u := strings.Replace(env.URL, "redis://", "redis://:hunter2@", 1)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"REDIS_URL":         u,
		"REDIS_CART_V2_URL": env.URL,
	}))
	def, err := New("", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = def.Stop(context.Background()) }()
	if strings.Contains(def.Addr(), "hunter2") || !strings.Contains(def.Addr(), "xxxxx") {
		t.Errorf("Addr() = %q, want the password redacted", def.Addr())
	}
	named, err := New("cart-v2", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, named)
	if named.Client() == def.Client() {
		t.Fatal("the named instance shares the default client")
	}
	var seen []string
	for _, e := range reg.Describe() {
		if e.Kind != Kind {
			continue
		}
		seen = append(seen, e.Variable)
		if strings.Contains(e.Value, "hunter2") {
			t.Errorf("describe shows the password: %+v", e)
		}
		if e.Origin != grelconfig.OriginEnv {
			t.Errorf("%s origin = %s, want env", e.Variable, e.Origin)
		}
	}
	if strings.Join(seen, ",") != "REDIS_URL,REDIS_CART_V2_URL" {
		t.Errorf("describe lists %v", seen)
	}
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name, instance string
		env            map[string]string
		want           string
	}{
		{"named without its variable", "cache", nil, "grelredis: REDIS_CACHE_URL: invalid Redis URL: not set"},
		{"malformed default", "", map[string]string{"REDIS_URL": "redis://:hunter2@h:xx/0"}, "grelredis: REDIS_URL: invalid Redis URL: not a valid URL"},
		{"malformed named", "cache", map[string]string{"REDIS_CACHE_URL": "redis://:hunter2@h/0?pool_size=hunter2"}, "grelredis: REDIS_CACHE_URL: invalid Redis URL: query parameter pool_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.instance, WithRegistry(grelconfig.NewRegistry(grelconfig.Map(tt.env))))
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q, want prefix %q and no password", err, tt.want)
			}
			if !errors.Is(err, grelconfig.ErrInvalid) {
				t.Errorf("error is not grelconfig.ErrInvalid")
			}
		})
	}
	if _, err := New("--"); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("New(\"--\") = %v, want ErrInvalidName", err)
	}
}

func TestDefaultURLWhenUnset(t *testing.T) {
	p, err := New("", WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	if p.Addr() != DefaultURL {
		t.Fatalf("Addr() = %q, want %q", p.Addr(), DefaultURL)
	}
}

func TestStartFailsWithinDeadline(t *testing.T) {
	providertest.StartFailsWithinDeadline[*ConnectError](t, ErrUnavailable, "hunter2", func(t *testing.T, addr string) providertest.Lifecycle {
		p, err := New("", WithURL("redis://:hunter2@"+addr+"/0?dial_timeout=30&read_timeout=30"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

// A wrapped client that ignores ctx deadlines still cannot hold Start past
// its ctx.
func TestStartBoundsAWrappedClient(t *testing.T) {
	addr := providertest.SilentServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 20 * time.Second, MaxRetries: -1})
	p, err := Wrap("legacy", client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := p.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Start took %s", took)
	}
	// The owner closes its client; that ends the stuck PING, then Stop
	// returns without closing anything itself.
	client.Close()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Stop whose ctx ends while a PING is still in flight (a wrapped client
// that ignores ctx, on a silent server) says so instead of a bare ctx
// error; the PING ends once the owner closes its client.
func TestStopWithPingInFlight(t *testing.T) {
	addr := providertest.SilentServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 20 * time.Second, MaxRetries: -1})
	defer client.Close()
	p, err := Wrap("legacy", client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Start(ctx); err == nil {
		t.Fatal("Start succeeded on a silent server")
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelStop()
	err = p.Stop(stopCtx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "grelredis: close: a PING still in flight at the stop deadline") {
		t.Fatalf("Stop = %v, want the PING in flight named", err)
	}
	if again := p.Stop(context.Background()); again != err { //nolint:errorlint // the same result is the point
		t.Errorf("second Stop = %v, want the first call's result", again)
	}
}

func TestWrapDoesNotClose(t *testing.T) {
	env := testenv.Redis(t)
	opts, _ := redis.ParseURL(env.URL)
	client := redis.NewClient(opts)
	defer client.Close()
	p, err := Wrap("", client)
	if err != nil {
		t.Fatal(err)
	}
	if p.Owned() {
		t.Fatal("a wrapped client is reported owned")
	}
	providertest.Start(t, p)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the app's client was closed by Stop: %v", err)
	}
	if _, err := Wrap("", nil); err == nil {
		t.Fatal("Wrap(nil) succeeded")
	}
}

func TestServerRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	p, err := New("", WithURL(srv.URL+"?dial_timeout=1&read_timeout=1&write_timeout=1"))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	if err := p.Client().Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	providertest.RequireRecovers(t, p, srv, ErrUnavailable, 2*time.Second, 15*time.Second)
	if err := p.Client().Set(ctx, "after", "2", 0).Err(); err != nil {
		t.Fatalf("the client does not work after the restart: %v", err)
	}
}

func TestTracing(t *testing.T) {
	env := testenv.Redis(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	p, err := New("", WithURL(env.URL), WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	if err := p.Client().Set(context.Background(), env.Prefix+"traced", "secret-value", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.String(), "secret-value") {
				t.Errorf("span %s records a command argument: %s", s.Name(), a.Key)
			}
		}
	}
	if !strings.Contains(strings.Join(names, ","), "set") {
		t.Fatalf("no span for SET; spans: %v", names)
	}

	// The no-op provider leaves the client uninstrumented.
	plain, err := New("", WithURL(env.URL), WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, plain)
	before := len(rec.Ended())
	_ = plain.Client().Ping(context.Background()).Err()
	if len(rec.Ended()) != before {
		t.Fatal("a client built with the no-op provider recorded spans")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaemon runs a redis-server command line until the test ends.
func startDaemon(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.InCI() {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed; run scripts/testenv start")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

func TestSentinel(t *testing.T) {
	master := testenv.StartRedis(t)
	_, mport, _ := net.SplitHostPort(master.Addr)
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor grelmaster 127.0.0.1 %s 1\n", port, dir, mport)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, conf, "--sentinel")
	p, err := New("", WithURL("redis+sentinel://127.0.0.1:"+strconv.Itoa(port)+"/grelmaster/0?dial_timeout=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	providertest.Eventually(t, 15*time.Second, "start through the sentinel", p.Start)
	ctx := context.Background()
	if err := p.Client().Set(ctx, "via-sentinel", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: master.Addr})
	defer direct.Close()
	if v, err := direct.Get(ctx, "via-sentinel").Result(); err != nil || v != "1" {
		t.Fatalf("the write did not reach the master: %q, %v", v, err)
	}
}

func TestCluster(t *testing.T) {
	port := freePort(t)
	startDaemon(t, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	providertest.Eventually(t, 10*time.Second, "cluster node up", func(ctx context.Context) error { return admin.Ping(ctx).Err() })
	if err := admin.Do(context.Background(), "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	providertest.Eventually(t, 10*time.Second, "cluster state ok", func(ctx context.Context) error {
		info, err := admin.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("cluster state not ok")
		}
		return nil
	})
	p, err := New("", WithURL("redis+cluster://"+addr))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", p.Client())
	}
	providertest.Start(t, p)
	ctx := context.Background()
	for i := range 10 {
		if err := p.Client().Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}
