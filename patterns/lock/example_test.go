package grellock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	"go.uber.org/fx"
)

// A lock guards a critical section; the fence goes with every write so the
// resource can refuse a holder that lost the lock without knowing it.
func ExampleLock_Acquire() {
	backend := grellock.NewMemory()
	lock, err := grellock.New("cart", backend, grellock.WithLeaseDuration(10*time.Second))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	hold, err := lock.Acquire(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("fence", hold.Fence())
	// ... write to the resource with hold.Fence() ...
	if err := hold.Release(ctx); err != nil {
		panic(err)
	}
	hold, _ = lock.Acquire(ctx)
	fmt.Println("fence", hold.Fence())
	_ = hold.Release(ctx)
	// Output:
	// fence 1
	// fence 2
}

func ExampleLock_TryAcquire() {
	backend := grellock.NewMemory()
	a, _ := grellock.New("cart", backend, grellock.WithWorker("worker-a"))
	b, _ := grellock.New("cart", backend, grellock.WithWorker("worker-b"))
	ctx := context.Background()
	hold, _ := a.TryAcquire(ctx)
	_, err := b.TryAcquire(ctx)
	fmt.Println(errors.Is(err, grellock.ErrNotAcquired), err)
	_ = hold.Release(ctx)
	// Output:
	// true grellock: not acquired: cart is held by worker-a
}

func ExampleLock_AcquireWithin() {
	backend := grellock.NewMemory()
	a, _ := grellock.New("cart", backend)
	b, _ := grellock.New("cart", backend, grellock.WithRetryInterval(5*time.Millisecond))
	ctx := context.Background()
	hold, _ := a.TryAcquire(ctx)
	_, err := b.AcquireWithin(ctx, 20*time.Millisecond)
	fmt.Println(errors.Is(err, grellock.ErrNotAcquired))
	_ = hold.Release(ctx)
	// Output:
	// true
}

// Do acquires, runs and releases; the function's context is cancelled if
// the lock is lost, and acquiring the same lock inside it fails at once.
func ExampleLock_Do() {
	lock, _ := grellock.New("cart", grellock.NewMemory())
	err := lock.Do(context.Background(), func(ctx context.Context) error {
		hold, _ := grellock.HoldFromContext(ctx, "cart")
		fmt.Println("fence", hold.Fence())
		_, err := lock.Acquire(ctx)
		fmt.Println(err)
		return nil
	})
	fmt.Println(err)
	// Output:
	// fence 1
	// grellock: lock already held by this context
	// <nil>
}

// A task lock runs a scheduled task on one replica; a replica that ticks a
// moment later skips it because the lock is held for MinHold.
func ExampleTaskLock_Run() {
	backend := grellock.NewMemory()
	replica1, _ := grellock.NewTaskLock("nightly-report", backend, grellock.WithMinHold(time.Minute))
	replica2, _ := grellock.NewTaskLock("nightly-report", backend, grellock.WithMinHold(time.Minute))
	ctx := context.Background()
	report := func(ctx context.Context) error { fmt.Println("report sent"); return nil }
	fmt.Println(replica1.Run(ctx, report))
	err := replica2.Run(ctx, report)
	fmt.Println(errors.Is(err, grellock.ErrNotAcquired))
	// Output:
	// report sent
	// <nil>
	// true
}

func ExampleLeaderElection_Run() {
	ctx, cancel := context.WithCancel(context.Background())
	e, err := grellock.NewLeaderElection("scheduler", grellock.NewMemory(),
		grellock.WithWorker("pod-a"),
		grellock.WithCallbacks(grellock.Callbacks{
			OnStartedLeading: func(ctx context.Context) {
				fmt.Println("leading")
				cancel() // stop campaigning (the term's context ends too)
				<-ctx.Done()
			},
			OnStoppedLeading: func() { fmt.Println("stopped leading") },
			OnNewLeader:      func(id string) { fmt.Println("leader:", id) },
		}))
	if err != nil {
		panic(err)
	}
	_ = e.Run(ctx)
	// Output:
	// leader: pod-a
	// leading
	// stopped leading
}

func ExampleLeaderElection_RunWhileLeader() {
	e, _ := grellock.NewLeaderElection("scheduler", grellock.NewMemory(), grellock.WithRetryInterval(10*time.Millisecond), grellock.WithRenewDeadline(time.Second))
	ctx := context.Background()
	_ = e.Start(ctx)
	defer func() { _ = e.Stop(ctx) }()
	err := e.RunWhileLeader(ctx, func(ctx context.Context) error {
		fmt.Println("only on the leader; is leader:", e.IsLeader())
		return nil
	})
	fmt.Println(err)
	// Output:
	// only on the leader; is leader: true
	// <nil>
}

func ExampleNewLeaderElection_validation() {
	_, err := grellock.NewLeaderElection("scheduler", grellock.NewMemory(),
		grellock.WithLeaseDuration(5*time.Second), grellock.WithRenewDeadline(10*time.Second))
	fmt.Println(err)
	// Output:
	// grelconfig: config: LeaseDuration must be greater than RenewDeadline
}

// The environment tunes an instance: GREL_LOCK_{NAME}_{FIELD}, then
// GREL_LOCK_{FIELD}.
func ExampleNew_environment() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_LOCK_CART_LEASE_DURATION": "45s",
		"GREL_LOCK_RETRY_INTERVAL":      "0.25",
	}))
	lock, _ := grellock.New("cart", grellock.NewMemory(), grellock.WithRegistry(reg))
	fmt.Println(lock.Config().LeaseDuration, lock.Config().RetryInterval)
	// Output:
	// 45s 250ms
}

// With Fx: Module collects the Backends providers offer; Named builds a lock
// on one of them (memory here, as no provider offers one).
func ExampleNamed() {
	app := fx.New(
		fx.NopLogger,
		grellock.Module,
		grellock.Named("cart"),
		fx.Invoke(fx.Annotate(func(l *grellock.Lock) {
			fmt.Println("lock", l.Name())
		}, fx.ParamTags(grellock.Tag("cart")))),
	)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		panic(err)
	}
	_ = app.Stop(ctx)
	// Output:
	// lock cart
}
