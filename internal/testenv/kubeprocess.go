package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
)

// The binaries scripts/testenv records, for StartKube.
const (
	etcdVar          = "GREL_TEST_ETCD"           // path of etcd
	kubeAPIServerVar = "GREL_TEST_KUBE_APISERVER" // path of the kube-apiserver built by scripts/testenv
)

// kubeStartTimeout bounds the start of the private kube-apiserver: about
// 3s on an idle machine, much more on a loaded one.
const kubeStartTimeout = 2 * time.Minute

// KubeProcess is a private kube-apiserver owned by one test, on its own
// loopback port, with its own etcd (its own data folder and ports). Stop,
// Start and Restart act on the apiserver and keep its port; etcd, and so
// every object, stays.
type KubeProcess struct {
	// Kubeconfig is the path of a kubeconfig for the apiserver (a bearer
	// token with system:masters, insecure-skip-tls-verify).
	Kubeconfig string
	// Config connects to the apiserver, with QPS 100 and Burst 200. Each
	// call returns a new Config: change it freely.
	Config *rest.Config
	// Namespace exists on the apiserver ("grel-test").
	Namespace string
	// Addr is 127.0.0.1:<port>.
	Addr string

	config *rest.Config
	api    *process
}

// StartKube starts a private etcd and kube-apiserver for the test (for
// tests that stop or restart the apiserver under a client) and stops both
// at cleanup. The binaries are the ones scripts/testenv records
// (GREL_TEST_ETCD, GREL_TEST_KUBE_APISERVER); it skips the test (fails it
// under CI) when either is missing. It takes a few seconds and about 300 MB.
func StartKube(t testing.TB) *KubeProcess {
	t.Helper()
	etcdBin, err := findBinary(etcdVar, "etcd", "/usr/bin/etcd")
	if err != nil {
		unavailable(t, "etcd", "this machine", err)
	}
	apiBin, err := findBinary(kubeAPIServerVar, "kube-apiserver")
	if err != nil {
		unavailable(t, "kube-apiserver", "this machine", fmt.Errorf("%w (scripts/testenv start builds it)", err))
	}
	dir := t.TempDir()
	token := randomHex(24)
	if err := writeKubeFiles(dir, token); err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}

	etcdPort, peerPort := freePort(t), freePort(t)
	etcdURL := "http://" + hostPort(etcdPort)
	peerURL := "http://" + hostPort(peerPort)
	etcd := &process{
		t:    t,
		name: "etcd",
		args: func() []string {
			return []string{etcdBin, "--name", "grel", "--data-dir", filepath.Join(dir, "etcd"),
				"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
				"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
				"--initial-cluster", "grel=" + peerURL, "--initial-cluster-state", "new",
				"--logger", "zap", "--log-outputs", "stderr"}
		},
		dir:     dir,
		logPath: filepath.Join(dir, "etcd.log"),
		stopSig: syscall.SIGTERM,
		ready:   func(ctx context.Context) error { return etcdHealthy(ctx, etcdURL) },
		wait:    kubeStartTimeout,
	}
	etcd.start()
	t.Cleanup(etcd.stop)

	port := freePort(t)
	addr := hostPort(port)
	k := &KubeProcess{
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Namespace:  "grel-test",
		Addr:       addr,
		config: &rest.Config{
			Host: "https://" + addr, BearerToken: token,
			TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 100, Burst: 200,
		},
	}
	k.api = &process{
		t:    t,
		name: "kube-apiserver",
		args: func() []string {
			return []string{apiBin,
				"--etcd-servers=" + etcdURL,
				"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
				"--cert-dir=" + filepath.Join(dir, "certs"),
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
				"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
				"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
				"--authorization-mode=AlwaysAllow",
				"--service-cluster-ip-range=10.0.0.0/24", // an allocation range only: no traffic goes there
				"--disable-admission-plugins=ServiceAccount",
				"--enable-priority-and-fairness=false", "--profiling=false", "--endpoint-reconciler-type=none"}
		},
		dir:     dir,
		logPath: filepath.Join(dir, "apiserver.log"),
		stopSig: syscall.SIGTERM,
		ready:   func(ctx context.Context) error { return apiserverReady(ctx, addr, token) },
		wait:    kubeStartTimeout,
	}
	k.api.start()
	t.Cleanup(k.api.stop) // before etcd's: cleanups run last-in first-out
	if err := os.WriteFile(k.Kubeconfig, []byte(kubeconfigFor(addr, token)), 0o600); err != nil {
		t.Fatalf("grelmicro testenv: %v", err)
	}
	k.Config = k.NewConfig()
	if err := k.createNamespace(); err != nil {
		t.Fatalf("grelmicro testenv: create namespace %s on %s: %v", k.Namespace, addr, err)
	}
	return k
}

// NewConfig returns a new copy of the apiserver's client config.
func (k *KubeProcess) NewConfig() *rest.Config { return rest.CopyConfig(k.config) }

// Stop stops the apiserver (SIGTERM, then SIGKILL after 15s) and waits for
// it; etcd keeps running.
func (k *KubeProcess) Stop() { k.api.t.Helper(); k.api.stop() }

// Start starts the apiserver again on the same port and waits until
// /readyz answers ok.
func (k *KubeProcess) Start() { k.api.t.Helper(); k.api.start() }

// Restart is Stop then Start.
func (k *KubeProcess) Restart() {
	k.api.t.Helper()
	k.api.stop()
	k.api.start()
}

func (k *KubeProcess) createNamespace() error {
	cs, hc, err := kubeClient(k.NewConfig())
	if err != nil {
		return err
	}
	defer utilnet.CloseIdleConnectionsFor(hc.Transport)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: k.Namespace}}, metav1.CreateOptions{})
	return err
}

// writeKubeFiles writes the service account key pair and the token file.
func writeKubeFiles(dir, token string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(token + `,admin,admin,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "certs"), 0o700)
}

func kubeconfigFor(addr, token string) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: grel-private
  cluster:
    server: https://` + addr + `
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: ` + token + `
contexts:
- name: grel-private
  context:
    cluster: grel-private
    user: admin
    namespace: grel-test
current-context: grel-private
`
}

// etcdHealthy asks etcd's /health.
func etcdHealthy(ctx context.Context, url string) error {
	body, err := httpGet(ctx, url+"/health", "")
	if err != nil {
		return err
	}
	if !strings.Contains(body, `"health":"true"`) {
		return errors.New("etcd /health answered " + body)
	}
	return nil
}

// apiserverReady asks the apiserver's /readyz with the token.
func apiserverReady(ctx context.Context, addr, token string) error {
	body, err := httpGet(ctx, "https://"+addr+"/readyz", token)
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "ok" {
		return errors.New("/readyz answered " + body)
	}
	return nil
}

// httpGet GETs url on a connection of its own (closed after), trusting
// any certificate: the throwaway servers here are self-signed, on loopback.
func httpGet(ctx context.Context, url, token string) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // see above
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}
