package grelkube

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func registry(env map[string]string) *grelconfig.Registry {
	return grelconfig.NewRegistry(grelconfig.Map(env))
}

// createLease proves the client works against the real API server.
func createLease(t *testing.T, p *Provider, name string) {
	t.Helper()
	id := p.Identity()
	_, err := p.Client().CoordinationV1().Leases(p.Namespace()).Create(context.Background(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &id},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create lease in %s: %v", p.Namespace(), err)
	}
}

func TestKubeconfigFromEnv(t *testing.T) {
	env := testenv.Kube(t)
	reg := registry(map[string]string{"KUBECONFIG": "/nonexistent/a:" + env.Kubeconfig, "POD_NAMESPACE": env.Namespace, "POD_NAME": "pod-a"})
	p, err := New("", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	if p.Source() != SourceEnv || p.Namespace() != env.Namespace || p.Identity() != "pod-a" || !p.Owned() {
		t.Fatalf("source %q namespace %q identity %q owned %v", p.Source(), p.Namespace(), p.Identity(), p.Owned())
	}
	createLease(t, p, "grel-provider")
	in := p.Instance()
	if in.Client != p.Client() || in.Config != p.RESTConfig() || in.Namespace != env.Namespace || in.Identity != "pod-a" {
		t.Fatalf("Instance() = %+v", in)
	}
	var listed []string
	for _, e := range reg.Describe() {
		listed = append(listed, e.Variable)
	}
	for _, v := range []string{"KUBECONFIG", "KUBERNETES_SERVICE_HOST", "POD_NAMESPACE", "POD_NAME", "GREL_KUBE_NAMESPACE", "GREL_KUBE_KUBECONFIG"} {
		if !strings.Contains(strings.Join(listed, " "), v) {
			t.Errorf("describe does not list %s: %v", v, listed)
		}
	}
	providertest.RequireStopped(t, p, ErrStopped)
}

// serverCA returns the root of the certificate chain the API server
// presents, as a service account's ca.crt would hold it.
func serverCA(t *testing.T, host string) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reading the chain only
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chain := conn.ConnectionState().PeerCertificates
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[len(chain)-1].Raw})
}

func TestInCluster(t *testing.T) {
	env := testenv.Kube(t)
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	sa := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(sa, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("token", []byte(env.Config.BearerToken))
	write("ca.crt", serverCA(t, u.Host))
	write("namespace", []byte(env.Namespace+"\n"))
	host, port, _ := net.SplitHostPort(u.Host)
	// KUBECONFIG is set too: in-cluster config wins over it.
	reg := registry(map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "KUBECONFIG": "/nonexistent"})
	p, err := New("", WithRegistry(reg), WithServiceAccountDir(sa))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	hostname, _ := os.Hostname()
	if p.Source() != SourceInCluster || p.Namespace() != env.Namespace || p.Identity() != hostname {
		t.Fatalf("source %q namespace %q identity %q", p.Source(), p.Namespace(), p.Identity())
	}
	if p.RESTConfig().TLSClientConfig.Insecure || p.RESTConfig().TLSClientConfig.CAFile == "" {
		t.Fatal("in-cluster config does not verify the server with the service account's CA")
	}
	createLease(t, p, "grel-in-cluster")
}

func TestResolveOrder(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:1"}
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:2"}}
users:
- {name: u, user: {token: abc}}
contexts:
- {name: one, context: {cluster: c, user: u, namespace: from-context}}
- {name: two, context: {cluster: c, user: u}}
current-context: one
`), 0o600); err != nil {
		t.Fatal(err)
	}
	sa := t.TempDir()
	if err := os.WriteFile(filepath.Join(sa, "namespace"), []byte("from-sa"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sa, "token"), []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(strings.ReplaceAll(mustRead(t, kubeconfig), "127.0.0.1:2", "127.0.0.1:3")), 0o600); err != nil {
		t.Fatal(err)
	}
	hostname, _ := os.Hostname()
	tests := []struct {
		name                       string
		instance                   string
		env                        map[string]string
		opts                       []Option
		saDir                      string
		host, source, ns, identity string
	}{
		{"GREL namespace and identity win", "", map[string]string{"GREL_KUBE_NAMESPACE": "grel-ns", "POD_NAMESPACE": "pod-ns", "GREL_KUBE_IDENTITY": "me", "POD_NAME": "pod"},
			[]Option{WithRESTConfig(rc)}, sa, "https://127.0.0.1:1", SourceCode, "grel-ns", "me"},
		{"POD_NAMESPACE and POD_NAME next", "", map[string]string{"POD_NAMESPACE": "pod-ns", "POD_NAME": "pod"},
			[]Option{WithRESTConfig(rc)}, sa, "https://127.0.0.1:1", SourceCode, "pod-ns", "pod"},
		{"service account namespace, host name", "", nil, []Option{WithRESTConfig(rc)}, sa, "https://127.0.0.1:1", SourceCode, "from-sa", hostname},
		{"kubeconfig context namespace", "", map[string]string{"KUBECONFIG": kubeconfig}, nil, empty, "https://127.0.0.1:2", SourceEnv, "from-context", hostname},
		{"context without namespace: default", "", map[string]string{"KUBECONFIG": kubeconfig, "GREL_KUBE_CONTEXT": "two"}, nil, empty, "https://127.0.0.1:2", SourceEnv, DefaultNamespace, hostname},
		{"GREL kubeconfig wins over in-cluster", "", map[string]string{"GREL_KUBE_KUBECONFIG": kubeconfig, "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}, nil, empty, "https://127.0.0.1:2", SourceExplicit, "from-context", hostname},
		{"in-cluster wins over KUBECONFIG", "", map[string]string{"KUBECONFIG": kubeconfig, "KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, nil, sa, "https://[fd00::1]:443", SourceInCluster, "from-sa", hostname},
		{"~/.kube/config last", "", map[string]string{"HOME": home}, nil, empty, "https://127.0.0.1:3", SourceHome, "from-context", hostname},
		{"named instance variables", "other", map[string]string{"KUBECONFIG": kubeconfig, "GREL_KUBE_OTHER_NAMESPACE": "other-ns", "GREL_KUBE_NAMESPACE": "all-ns", "GREL_KUBE_OTHER_IDENTITY": "other-id"},
			nil, empty, "https://127.0.0.1:2", SourceEnv, "other-ns", "other-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.instance, append([]Option{WithRegistry(registry(tt.env)), WithServiceAccountDir(tt.saDir)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Stop(context.Background()) }()
			if p.Addr() != tt.host || p.Source() != tt.source || p.Namespace() != tt.ns || p.Identity() != tt.identity {
				t.Fatalf("got host %q source %q namespace %q identity %q, want %q %q %q %q",
					p.Addr(), p.Source(), p.Namespace(), p.Identity(), tt.host, tt.source, tt.ns, tt.identity)
			}
		})
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := New("", WithRegistry(registry(nil)), WithServiceAccountDir(empty)); !errors.Is(err, ErrNoConfig) {
		t.Errorf("no config anywhere: %v, want ErrNoConfig", err)
	}
	if _, err := New("", WithRegistry(registry(map[string]string{"KUBECONFIG": "/nonexistent"})), WithServiceAccountDir(empty)); err == nil {
		t.Error("a KUBECONFIG naming no file was accepted")
	}
	rc := WithRESTConfig(&rest.Config{Host: "https://127.0.0.1:1"})
	for k, v := range map[string]string{"GREL_KUBE_NAMESPACE": "Not_A_Label", "GREL_KUBE_QPS": "-3.5", "GREL_KUBE_BURST": "-9"} {
		_, err := New("", WithRegistry(registry(map[string]string{k: v})), rc)
		if !errors.Is(err, grelconfig.ErrInvalid) || !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), v) {
			t.Errorf("%s=%s: error %v, want one naming the variable and not the value", k, v, err)
		}
	}
	if err := (Config{QPS: 1, Burst: 1}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// A kubeconfig, context or TLS file that cannot be used is a config error
// (grelconfig.ErrInvalid) that names the variable at fault and says why,
// never with the value: not the path, not the context name, not client-go's
// advice about KUBERNETES_MASTER.
func TestKubeconfigErrorsNameTheVariable(t *testing.T) {
	const secret = "hunter2"
	dir := filepath.Join(t.TempDir(), secret)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const cluster = "clusters:\n- {name: c, cluster: {server: \"https://127.0.0.1:2\"}}\nusers:\n- {name: u, user: {token: abc}}\n"
	good := write("good", "apiVersion: v1\nkind: Config\n"+cluster+"contexts:\n- {name: one, context: {cluster: c, user: u}}\ncurrent-context: one\n")
	noCurrent := write("nocurrent", "apiVersion: v1\nkind: Config\n"+cluster+"contexts:\n- {name: one, context: {cluster: c, user: u}}\n")
	badCurrent := write("badcurrent", "apiVersion: v1\nkind: Config\n"+cluster+"contexts:\n- {name: one, context: {cluster: c, user: u}}\ncurrent-context: "+secret+"-ctx\n")
	noServer := write("noserver", "apiVersion: v1\nkind: Config\nclusters:\n- {name: c, cluster: {}}\ncontexts:\n- {name: one, context: {cluster: "+secret+"-c, user: u}}\ncurrent-context: one\n")
	garbage := write("garbage", secret+": [\n")
	empty := write("empty", "")
	badCA := write("badca", "apiVersion: v1\nkind: Config\nclusters:\n- {name: c, cluster: {server: \"https://127.0.0.1:2\", certificate-authority-data: aHVudGVyMgo=}}\n"+
		"users:\n- {name: u, user: {token: abc}}\ncontexts:\n- {name: one, context: {cluster: c, user: u}}\ncurrent-context: one\n")
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(secret+": [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name     string
		instance string
		env      map[string]string
		opts     []Option
		want     string // the message, after "grelconfig: "
	}{
		{"context that does not exist", "", map[string]string{"GREL_KUBE_KUBECONFIG": good, "GREL_KUBE_CONTEXT": secret + "-ctx"}, nil,
			"GREL_KUBE_CONTEXT (Context): names no context of the kubeconfig (kubeconfig (GREL_KUBE_KUBECONFIG))"},
		{"named instance's context", "other", map[string]string{"KUBECONFIG": good, "GREL_KUBE_OTHER_CONTEXT": secret + "-ctx"}, nil,
			"GREL_KUBE_OTHER_CONTEXT (Context): names no context of the kubeconfig (kubeconfig (KUBECONFIG))"},
		{"context from an option", "", map[string]string{"KUBECONFIG": good}, []Option{WithContext(secret + "-ctx")},
			"option Context: names no context of the kubeconfig (kubeconfig (KUBECONFIG))"},
		{"GREL kubeconfig that does not exist", "", map[string]string{"GREL_KUBE_KUBECONFIG": missing}, nil,
			"GREL_KUBE_KUBECONFIG (Kubeconfig): " + reasonNoFile},
		{"kind-wide kubeconfig for a named instance", "other", map[string]string{"GREL_KUBE_KUBECONFIG": missing}, nil,
			"GREL_KUBE_KUBECONFIG (Kubeconfig): " + reasonNoFile},
		{"KUBECONFIG naming no file", "", map[string]string{"KUBECONFIG": missing + ":" + missing + "2"}, nil,
			"KUBECONFIG: " + reasonNoFiles},
		{"not YAML", "", map[string]string{"KUBECONFIG": garbage}, nil, "KUBECONFIG: " + reasonUnreadable},
		{"empty file", "", map[string]string{"KUBECONFIG": empty}, nil, "KUBECONFIG: " + reasonNoContexts},
		{"no current context", "", map[string]string{"KUBECONFIG": noCurrent}, nil, "KUBECONFIG: " + reasonNoCurrent},
		{"current context missing", "", map[string]string{"KUBECONFIG": badCurrent}, nil, "KUBECONFIG: " + reasonBadCurrent},
		{"context without a server", "", map[string]string{"KUBECONFIG": noServer}, nil, "KUBECONFIG: " + reasonUnusable},
		{"CA that is not PEM", "", map[string]string{"GREL_KUBE_KUBECONFIG": badCA}, nil, "GREL_KUBE_KUBECONFIG (Kubeconfig): " + reasonTLS},
		{"~/.kube/config not YAML", "", map[string]string{"HOME": home}, nil, "HOME: " + prefixHome + reasonUnreadable},
	}
	empty0 := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.instance, append([]Option{WithRegistry(registry(tt.env)), WithServiceAccountDir(empty0)}, tt.opts...)...)
			if err == nil {
				_ = p.Stop(context.Background())
				t.Fatal("New accepted the config")
			}
			var ce *grelconfig.Error
			if !errors.As(err, &ce) || !errors.Is(err, grelconfig.ErrInvalid) {
				t.Errorf("error %T %v, want a *grelconfig.Error", err, err)
			}
			if msg := err.Error(); msg != "grelconfig: "+tt.want || strings.Contains(msg, secret) || strings.Contains(msg, "KUBERNETES_MASTER") {
				t.Errorf("error\n  %q\nwant\n  %q\n(without %q or client-go's advice)", msg, "grelconfig: "+tt.want, secret)
			}
		})
	}
	// The same files are fine when the variable names a usable context.
	p, err := New("", WithRegistry(registry(map[string]string{"GREL_KUBE_KUBECONFIG": good, "GREL_KUBE_CONTEXT": "one"})), WithServiceAccountDir(empty0))
	if err != nil {
		t.Fatalf("a usable kubeconfig and context: %v", err)
	}
	_ = p.Stop(context.Background())
}

// QPS and Burst: a rest.Config given in code keeps its own unless an
// option or a variable sets them; a config built from a kubeconfig gets the
// documented defaults (20, 40) or what is set.
func TestRateLimitOverridesOnlyWhenSet(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- {name: c, cluster: {server: \"https://127.0.0.1:2\"}}\n"+
		"users:\n- {name: u, user: {token: abc}}\ncontexts:\n- {name: one, context: {cluster: c, user: u}}\ncurrent-context: one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	given := func() Option { return WithRESTConfig(&rest.Config{Host: "https://127.0.0.1:1", QPS: 7, Burst: 9}) }
	tests := []struct {
		name       string
		env        map[string]string
		opts       []Option
		qps, burst float32
	}{
		{"given config, nothing set: kept", nil, []Option{given()}, 7, 9},
		{"given config, GREL_KUBE_QPS set", map[string]string{"GREL_KUBE_QPS": "3"}, []Option{given()}, 3, 9},
		{"given config, GREL_KUBE_BURST set", map[string]string{"GREL_KUBE_BURST": "5"}, []Option{given()}, 7, 5},
		{"given config, WithRateLimit", nil, []Option{given(), WithRateLimit(11, 12)}, 11, 12},
		{"given config, GREL_ENV_LOAD=false", map[string]string{"GREL_ENV_LOAD": "false", "GREL_KUBE_QPS": "3"}, []Option{given()}, 7, 9},
		{"kubeconfig, nothing set: defaults", map[string]string{"KUBECONFIG": kubeconfig}, nil, 20, 40},
		{"kubeconfig, variables", map[string]string{"KUBECONFIG": kubeconfig, "GREL_KUBE_QPS": "50", "GREL_KUBE_BURST": "60"}, nil, 50, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New("", append([]Option{WithRegistry(registry(tt.env)), WithServiceAccountDir(t.TempDir())}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Stop(context.Background()) }()
			if rc := p.RESTConfig(); rc.QPS != tt.qps || float32(rc.Burst) != tt.burst {
				t.Errorf("QPS %v Burst %d, want %v %v", rc.QPS, rc.Burst, tt.qps, tt.burst)
			}
		})
	}
}

func TestStartFailsWithinDeadline(t *testing.T) {
	providertest.StartFailsWithinDeadline[*ConnectError](t, ErrUnavailable, "hunter2", func(t *testing.T, addr string) providertest.Lifecycle {
		p, err := New("", WithRegistry(registry(nil)), WithRESTConfig(&rest.Config{
			Host: "https://" + addr, BearerToken: "hunter2", TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		}))
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

// A kube-apiserver restarted under a running provider (a private one, with
// its own etcd): the readiness check fails while it is down, recovers by
// itself once it is back, and the same clientset works again, with the
// objects written before still there.
func TestServerRestart(t *testing.T) {
	srv := testenv.StartKube(t)
	p, err := New("", WithRegistry(registry(map[string]string{"KUBECONFIG": srv.Kubeconfig, "POD_NAME": "pod-a"})))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	if p.Namespace() != srv.Namespace || p.Source() != SourceEnv {
		t.Fatalf("namespace %q source %q", p.Namespace(), p.Source())
	}
	createLease(t, p, "before-restart")
	providertest.RequireRecovers(t, p, srv, ErrUnavailable, 3*time.Second, time.Minute)
	createLease(t, p, "after-restart")
	got, err := p.Client().CoordinationV1().Leases(p.Namespace()).Get(context.Background(), "before-restart", metav1.GetOptions{})
	if err != nil || got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "pod-a" {
		t.Fatalf("the Lease written before the restart: %+v, %v", got, err)
	}
}

func TestStartRefusesBadCredentials(t *testing.T) {
	env := testenv.Kube(t)
	rc := rest.CopyConfig(env.Config)
	rc.BearerToken = "hunter2-wrong"
	p, err := New("", WithRegistry(registry(nil)), WithRESTConfig(rc))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = p.Start(ctx)
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Start with a wrong token = %v", err)
	}
}

func TestWrap(t *testing.T) {
	env := testenv.Kube(t)
	owner, err := New("", WithRegistry(registry(nil)), WithRESTConfig(env.Config), WithNamespace(env.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, owner)
	p, err := Wrap("", owner.Client(), nil, WithRegistry(registry(map[string]string{"POD_NAMESPACE": env.Namespace})))
	if err != nil {
		t.Fatal(err)
	}
	if p.Owned() || p.RESTConfig() != nil || p.Namespace() != env.Namespace {
		t.Fatalf("owned %v config %v namespace %q", p.Owned(), p.RESTConfig(), p.Namespace())
	}
	providertest.Start(t, p)
	_ = p.Stop(context.Background())
	if err := owner.Ready(context.Background()); err != nil {
		t.Fatalf("the app's client stopped working: %v", err)
	}
	if _, err := Wrap("", nil, nil); err == nil {
		t.Fatal("Wrap(nil) succeeded")
	}
	_ = owner.Stop(context.Background())
}
