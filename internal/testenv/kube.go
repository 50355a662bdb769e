package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeEnv is the shared kube-apiserver, seen by one test.
type KubeEnv struct {
	// Kubeconfig is the path of the kubeconfig file (GREL_TEST_KUBECONFIG).
	Kubeconfig string
	// Config is built from Kubeconfig, with QPS 100 and Burst 200 so that
	// client-side throttling does not slow tests down. Each call returns a
	// new Config: change it freely.
	Config *rest.Config
	// Namespace is a fresh namespace ("grel-test-<random>"), removed at
	// cleanup with the leases, config maps and events in it.
	Namespace string
}

// Kube returns the shared kube-apiserver with a fresh namespace for the
// test. It skips the test (fails it under CI) when the server is absent.
func Kube(t testing.TB) KubeEnv {
	t.Helper()
	path, where := lookup(kubeconfigVar)
	if path == "" {
		unavailable(t, "kube-apiserver", where, nil)
	}
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "kube-apiserver", path, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("grelmicro testenv: kubeconfig %s: %v", path, err)
	}
	cfg.QPS = 100
	cfg.Burst = 200

	cs, hc, err := kubeClient(cfg)
	if err != nil {
		t.Fatalf("grelmicro testenv: client for %s: %v", cfg.Host, err)
	}
	defer utilnet.CloseIdleConnectionsFor(hc.Transport)
	if err := kubeReady(cs); err != nil {
		unavailable(t, "kube-apiserver", cfg.Host, err)
	}

	ns := "grel-test-" + randomHex(5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"grelmicro.dev/test": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("grelmicro testenv: create namespace %s on %s: %v", ns, cfg.Host, err)
	}
	t.Cleanup(func() {
		if err := kubeDeleteNamespace(cfg, ns); err != nil {
			t.Errorf("grelmicro testenv: delete namespace %s on %s: %v", ns, cfg.Host, err)
		}
	})
	return KubeEnv{Kubeconfig: path, Config: rest.CopyConfig(cfg), Namespace: ns}
}

func kubeClient(cfg *rest.Config) (*kubernetes.Clientset, *http.Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, nil, err
	}
	return cs, hc, nil
}

func kubeReady(cs *kubernetes.Clientset) error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(body)); s != "ok" {
		return errors.New("/readyz answered " + s)
	}
	return nil
}

// kubeDeleteNamespace removes what tests create in a namespace, then the
// namespace. The apiserver alone runs no namespace controller (that is
// kube-controller-manager's), so the namespace's "kubernetes" finalizer is
// cleared here once its contents are gone.
func kubeDeleteNamespace(cfg *rest.Config, ns string) error {
	cs, hc, err := kubeClient(cfg)
	if err != nil {
		return err
	}
	// Closing idle connections after the test's own cleanups (which ran
	// before this one) also closes those of the test's clients that share
	// client-go's cached transport, so goleak sees no lingering readers.
	defer utilnet.CloseIdleConnectionsFor(hc.Transport)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := metav1.ListOptions{}
	del := metav1.DeleteOptions{}
	if err := cs.CoordinationV1().Leases(ns).DeleteCollection(ctx, del, all); err != nil {
		return err
	}
	if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, del, all); err != nil {
		return err
	}
	if err := cs.CoreV1().Events(ns).DeleteCollection(ctx, del, all); err != nil {
		return err
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, del); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	got.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, got, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
