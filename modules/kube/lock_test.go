package grelkube_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
	grelkube "github.com/grelmicro/grelmicro-go/modules/kube"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
)

// lockClient is one more client of the apiserver, not throttled by
// client-go's default rate limiter (the suite polls hard).
func lockClient(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLockConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		env := testenv.Kube(t)
		return func() grellock.Backend { return grelkube.NewLockBackend(lockClient(t, env.Config), env.Namespace) }
	}))
}

func openShared(t *testing.T) func(string) (grellock.Backend, error) {
	return func(shared string) (grellock.Backend, error) {
		path, ns, _ := strings.Cut(shared, " ")
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, err
		}
		return grelkube.NewLockBackend(lockClient(t, cfg), ns), nil
	}
}

func sharedEnv(t *testing.T) string {
	if grellocktest.IsChild() {
		return ""
	}
	env := testenv.Kube(t)
	return env.Kubeconfig + " " + env.Namespace
}

// Three OS processes contend for one Lease: no two holds overlap, fences
// only increase.
func TestLockProcesses(t *testing.T) {
	grellocktest.Contend(t, grellocktest.Contention{Shared: sharedEnv(t), NewBackend: openShared(t)})
}

// Killing the leading process: another leads within lease + retry interval.
func TestLeaderFailoverProcesses(t *testing.T) {
	grellocktest.Failover(t, grellocktest.FailoverConfig{Shared: sharedEnv(t), NewBackend: openShared(t)})
}

// countTransport counts the requests sent to the apiserver.
type countTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// The renew path (extend, re-acquire by the holder) and a release are one
// update; the Lease's fields read the way kubectl shows them; a stale write
// is refused by resourceVersion.
func TestLockLeaseFieldsAndRoundTrips(t *testing.T) {
	env := testenv.Kube(t)
	var n atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countTransport{next: rt, n: &n} }
	client := lockClient(t, cfg)
	b := grelkube.NewLockBackend(client, env.Namespace)
	ctx := context.Background()
	req := grellock.Request{Name: "leader", Token: "tok", Holder: "pod-a", Lease: 1500 * time.Millisecond}
	if _, err := b.Acquire(ctx, req); err != nil {
		t.Fatal(err)
	}
	lease, err := client.CoordinationV1().Leases(env.Namespace).Get(ctx, "leader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := lease.Spec
	if sp.HolderIdentity == nil || *sp.HolderIdentity != "pod-a" || sp.LeaseDurationSeconds == nil || *sp.LeaseDurationSeconds != 2 ||
		sp.AcquireTime == nil || sp.RenewTime == nil || sp.LeaseTransitions == nil || *sp.LeaseTransitions != 0 ||
		lease.Annotations[grelkube.AnnotationFence] != "1" {
		t.Errorf("Lease as kubectl reads it: %+v annotations %v", sp, lease.Annotations)
	}
	ops := []struct {
		name string
		do   func() error
	}{
		{"extend", func() error { _, err := b.Extend(ctx, req); return err }},
		{"re-acquire by the holder", func() error { _, err := b.Acquire(ctx, req); return err }},
		{"release", func() error { return b.Release(ctx, "leader", "tok") }},
	}
	for _, op := range ops {
		before := n.Load()
		if err := op.do(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if got := n.Load() - before; got != 1 {
			t.Errorf("%s: %d requests, want 1", op.name, got)
		}
	}
	// A stale object (an old resourceVersion) is refused with a conflict:
	// the write made from it reports not acquired.
	other := grelkube.NewLockBackend(lockClient(t, env.Config), env.Namespace)
	if _, err := other.Acquire(ctx, grellock.Request{Name: "leader", Token: "tok-b", Holder: "pod-b", Lease: time.Second}); err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = ptr("pod-c")
	if _, err := client.CoordinationV1().Leases(env.Namespace).Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
		t.Fatal("an update with a stale resourceVersion succeeded")
	}
	got, err := other.Get(ctx, "leader")
	if err != nil || got.Holder != "pod-b" || got.Fence != 2 || got.Transitions != 1 {
		t.Errorf("after takeover by pod-b: %+v, %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLockRefusesInvalidLeaseNames(t *testing.T) {
	env := testenv.Kube(t)
	b := grelkube.NewLockBackend(lockClient(t, env.Config), env.Namespace)
	_, err := b.Acquire(context.Background(), grellock.Request{Name: "Not_A_Lease", Token: "t", Holder: "h", Lease: time.Second})
	if err == nil || !strings.Contains(err.Error(), "not a valid Lease name") {
		t.Errorf("error %v", err)
	}
	if errors.Is(err, grellock.ErrNotAcquired) {
		t.Error("an invalid name is not a contended lock")
	}
}

// LockBackends offers each client to grellock.Module; an election run by
// Fx shows in the Lease.
func TestLockBackendsModule(t *testing.T) {
	env := testenv.Kube(t)
	name := grellocktest.LockName(t)
	var election *grellock.LeaderElection
	app := fxtest.New(t,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{
			"GREL_LEADERELECTION_RETRY_INTERVAL": "100ms", "GREL_LEADERELECTION_RENEW_DEADLINE": "2s", "GREL_LEADERELECTION_WORKER": "pod-x",
		}))),
		grelkube.FromClient("", lockClient(t, env.Config), env.Config, grelkube.WithNamespace(env.Namespace)),
		grelkube.LockBackends,
		grellock.Module,
		grellock.NamedElection(name),
		fx.Invoke(fx.Annotate(func(e *grellock.LeaderElection) { election = e }, fx.ParamTags(grellock.Tag(name)))),
	)
	app.RequireStart()
	deadline := time.Now().Add(5 * time.Second)
	for !election.IsLeader() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !election.IsLeader() {
		t.Fatal("the election did not lead")
	}
	lease, err := lockClient(t, env.Config).CoordinationV1().Leases(env.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "pod-x" {
		t.Fatalf("Lease %+v, %v", lease, err)
	}
	app.RequireStop()
	lease, err = lockClient(t, env.Config).CoordinationV1().Leases(env.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "" {
		t.Errorf("the Lease was not released on stop: %+v, %v", lease.Spec, err)
	}
}
