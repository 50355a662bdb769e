package grelkube_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

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
	if _, err := client.CoordinationV1().Leases(env.Namespace).Update(ctx, lease, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("an update with a stale resourceVersion = %v, want 409 Conflict", err)
	}
	got, err := other.Get(ctx, "leader")
	if err != nil || got.Holder != "pod-b" || got.Fence != 2 || got.Transitions != 1 {
		t.Errorf("after takeover by pod-b: %+v, %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

// raceTransport runs race once, just before the first PUT of a Lease goes
// out: another writer's update lands between the backend's get and its
// update.
type raceTransport struct {
	next http.RoundTripper
	once *sync.Once
	race func()
}

func (r raceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/leases/") {
		r.once.Do(r.race)
	}
	return r.next.RoundTrip(req)
}

// An acquisition that loses the race to another writer (its update carries
// the resourceVersion it read, which is stale by then) is refused by the
// API server with 409 Conflict: the backend reports not acquired, wrapping
// the conflict, and the other writer's Lease stands.
func TestLockAcquireLosesRaceWithConflict(t *testing.T) {
	env := testenv.Kube(t)
	ctx := context.Background()
	admin := lockClient(t, env.Config)
	leases := admin.CoordinationV1().Leases(env.Namespace)
	// An expired Lease, free to take.
	seed := grelkube.NewLockBackend(admin, env.Namespace)
	if _, err := seed.Acquire(ctx, grellock.Request{Name: "race", Token: "t0", Holder: "pod-0", Lease: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Release(ctx, "race", "t0"); err != nil {
		t.Fatal(err)
	}
	var raced error
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return raceTransport{next: rt, once: &sync.Once{}, race: func() {
			l, err := leases.Get(ctx, "race", metav1.GetOptions{})
			if err == nil {
				l.Spec.HolderIdentity = ptr("pod-other")
				_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
			}
			raced = err
		}}
	}
	b := grelkube.NewLockBackend(lockClient(t, cfg), env.Namespace)
	_, err := b.Acquire(ctx, grellock.Request{Name: "race", Token: "t1", Holder: "pod-1", Lease: time.Minute})
	if raced != nil {
		t.Fatalf("the racing update failed: %v", raced)
	}
	if !errors.Is(err, grellock.ErrNotAcquired) || !apierrors.IsConflict(err) {
		t.Fatalf("Acquire after losing the race = %v, want ErrNotAcquired wrapping a 409 Conflict", err)
	}
	l, err := leases.Get(ctx, "race", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "pod-other" {
		t.Fatalf("the winner's Lease was overwritten: %+v, %v", l, err)
	}
}

// A Lease written by client-go's own LeaseLock (no grelmicro annotations),
// held by one identity and then taken over by another the way client-go
// does: once it expires, taking it counts one more transition in
// spec.leaseTransitions, which client-go then reads back; the fence starts
// at 1.
func TestLockTakeoverOfClientGoLease(t *testing.T) {
	env := testenv.Kube(t)
	ctx := context.Background()
	client := lockClient(t, env.Config)
	lockFor := func(id string) *resourcelock.LeaseLock {
		return &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: "cg", Namespace: env.Namespace},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
	}
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	if err := lockFor("cg-a").Create(ctx, resourcelock.LeaderElectionRecord{
		HolderIdentity: "cg-a", LeaseDurationSeconds: 1, AcquireTime: past, RenewTime: past,
	}); err != nil {
		t.Fatal(err)
	}
	// cg-b takes over as client-go's elector does: holder changed, one
	// more transition.
	cgb := lockFor("cg-b")
	old, _, err := cgb.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cgb.Update(ctx, resourcelock.LeaderElectionRecord{
		HolderIdentity: "cg-b", LeaseDurationSeconds: 1, AcquireTime: past, RenewTime: past, LeaderTransitions: old.LeaderTransitions + 1,
	}); err != nil {
		t.Fatal(err)
	}
	b := grelkube.NewLockBackend(client, env.Namespace)
	rec, err := b.Acquire(ctx, grellock.Request{Name: "cg", Token: "tok", Holder: "pod-c", Lease: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Transitions != 2 || rec.Fence != 1 || rec.Holder != "pod-c" {
		t.Fatalf("after taking over client-go's Lease: %+v; want transitions 2, fence 1", rec)
	}
	got, _, err := lockFor("reader").Get(ctx)
	if err != nil || got.HolderIdentity != "pod-c" || got.LeaderTransitions != 2 {
		t.Fatalf("client-go reads %+v, %v; want holder pod-c and 2 transitions", got, err)
	}
	// A release, then another holder: one more transition, the next fence.
	if err := b.Release(ctx, "cg", "tok"); err != nil {
		t.Fatal(err)
	}
	rec, err = b.Acquire(ctx, grellock.Request{Name: "cg", Token: "tok2", Holder: "pod-d", Lease: 10 * time.Second})
	if err != nil || rec.Transitions != 3 || rec.Fence != 2 {
		t.Fatalf("after a release and a new holder: %+v, %v; want transitions 3, fence 2", rec, err)
	}
}

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
