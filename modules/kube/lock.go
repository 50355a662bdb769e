package grelkube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// The annotations the lock backend keeps on a Lease, next to the fields
// Kubernetes defines (holderIdentity, leaseDurationSeconds, acquireTime,
// renewTime, leaseTransitions).
const (
	// AnnotationToken is the current hold's owner token.
	AnnotationToken = "grelmicro.io/token"
	// AnnotationFence is the fencing token, incremented in the same update
	// as every new acquisition.
	AnnotationFence = "grelmicro.io/fence"
	// AnnotationLease is the lease in milliseconds (leaseDurationSeconds is
	// the same lease rounded up to whole seconds).
	AnnotationLease = "grelmicro.io/lease-ms"
	// AnnotationMetadata is the holder's metadata, as JSON.
	AnnotationMetadata = "grelmicro.io/metadata"
)

// LockBackend is the grellock.Backend on coordination.k8s.io/v1 Leases, one
// Lease per name in one namespace. Writes are compare-and-swap on
// metadata.resourceVersion: a stale write gets 409 Conflict and the
// operation reports not acquired / not held. An acquisition is a get and an
// update (or a create); a renewal and a release are one update from the
// object this backend last saw (a get and an update again after a
// conflict).
//
// Expiry is renewTime + lease read on the reader's clock, as every
// Kubernetes reader of a Lease does: the nodes' clocks must agree within
// grellock.SafetyMargin. A Lease held by another client (client-go's
// LeaseLock, without the annotations) is respected while its holder renews
// it.
type LockBackend struct {
	leases    coordclient.LeaseInterface
	namespace string

	mu   sync.Mutex
	seen map[string]*coordinationv1.Lease // the last object this backend wrote (or read to write), per name
}

var _ grellock.Backend = (*LockBackend)(nil)

// NewLockBackend returns the lock backend on client for Leases in
// namespace. Lock names must be valid Lease names (DNS subdomains). The
// client's rate limiter (client-go's default: 5 requests per second) bounds
// how often waiters can poll.
func NewLockBackend(client kubernetes.Interface, namespace string) *LockBackend {
	return &LockBackend{leases: client.CoordinationV1().Leases(namespace), namespace: namespace, seen: map[string]*coordinationv1.Lease{}}
}

// Kind returns "kube".
func (*LockBackend) Kind() string { return "kube" }

func checkName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("grelkube: lock name %q is not a valid Lease name: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

func (b *LockBackend) cached(name string) *coordinationv1.Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.seen[name]; l != nil {
		return l.DeepCopy()
	}
	return nil
}

func (b *LockBackend) remember(l *coordinationv1.Lease) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[l.Name] = l.DeepCopy()
}

func (b *LockBackend) forget(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.seen, name)
}

// state is what a Lease says, read at now.
type state struct {
	token, holder string
	fence         uint64
	lease         time.Duration
	renew         time.Time
	valid         bool
}

func read(l *coordinationv1.Lease, now time.Time) state {
	var s state
	a := l.Annotations
	s.token = a[AnnotationToken]
	s.fence, _ = strconv.ParseUint(a[AnnotationFence], 10, 64)
	if l.Spec.HolderIdentity != nil {
		s.holder = *l.Spec.HolderIdentity
	}
	if ms, err := strconv.ParseInt(a[AnnotationLease], 10, 64); err == nil && ms > 0 {
		s.lease = time.Duration(ms) * time.Millisecond
	} else if l.Spec.LeaseDurationSeconds != nil {
		s.lease = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	if l.Spec.RenewTime != nil {
		s.renew = l.Spec.RenewTime.Time
	} else if l.Spec.AcquireTime != nil {
		s.renew = l.Spec.AcquireTime.Time
	}
	s.valid = s.holder != "" && !s.renew.IsZero() && s.renew.Add(s.lease).After(now)
	return s
}

func record(name string, l *coordinationv1.Lease, now time.Time) (grellock.Record, error) {
	s := read(l, now)
	rec := grellock.Record{Name: name, Fence: s.fence}
	if l.Spec.LeaseTransitions != nil {
		rec.Transitions = int64(*l.Spec.LeaseTransitions)
	}
	if !s.valid {
		return rec, nil
	}
	rec.Holder, rec.Token, rec.Lease = s.holder, s.token, s.lease
	rec.RenewedAt, rec.ExpiresAt = s.renew, s.renew.Add(s.lease)
	if l.Spec.AcquireTime != nil {
		rec.AcquiredAt = l.Spec.AcquireTime.Time
	}
	if m := l.Annotations[AnnotationMetadata]; m != "" {
		if err := json.Unmarshal([]byte(m), &rec.Metadata); err != nil {
			return grellock.Record{}, fmt.Errorf("grelkube: lock metadata: %w", err)
		}
	}
	return rec, nil
}

func seconds(d time.Duration) *int32 {
	s := int32((d + time.Second - 1) / time.Second)
	return &s
}

// setLease renews l for lease at now.
func setLease(l *coordinationv1.Lease, lease time.Duration, now time.Time) {
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[AnnotationLease] = strconv.FormatInt(lease.Milliseconds(), 10)
	l.Spec.LeaseDurationSeconds = seconds(lease)
	l.Spec.RenewTime = &metav1.MicroTime{Time: now}
}

// acquireOn makes l a new acquisition (or an extension) by req at now.
func acquireOn(l *coordinationv1.Lease, req grellock.Request, meta string, hasMeta bool, now time.Time) {
	s := read(l, now)
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	extend := s.valid && s.token == req.Token
	if !extend {
		trans := int32(0)
		if l.Spec.LeaseTransitions != nil {
			trans = *l.Spec.LeaseTransitions
		}
		// Every new acquisition of an existing Lease by another holder
		// counts, as client-go counts it: the Lease may have been written
		// by a client-go LeaseLock (no fence annotation) or released
		// (holder cleared). Only a Lease created here starts at 0.
		if l.ResourceVersion != "" && s.holder != req.Holder {
			trans++
		}
		holder := req.Holder
		l.Spec.HolderIdentity = &holder
		l.Spec.LeaseTransitions = &trans
		l.Spec.AcquireTime = &metav1.MicroTime{Time: now}
		l.Annotations[AnnotationToken] = req.Token
		l.Annotations[AnnotationFence] = strconv.FormatUint(s.fence+1, 10)
		delete(l.Annotations, AnnotationMetadata)
	}
	if hasMeta {
		l.Annotations[AnnotationMetadata] = meta
	}
	setLease(l, req.Lease, now)
}

// notAcquired is a lost race with another writer: grellock.ErrNotAcquired
// wrapping the API server's 409 (apierrors.IsConflict or IsAlreadyExists
// still match it).
func notAcquired(err error) error {
	return fmt.Errorf("grelkube: lock acquire: %w (%w)", grellock.ErrNotAcquired, err)
}

// Acquire implements grellock.Backend: a get, then an update (or a create);
// one update when this backend holds the name.
func (b *LockBackend) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	if err := checkName(req.Name); err != nil {
		return grellock.Record{}, err
	}
	var meta string
	if req.Metadata != nil {
		m, err := json.Marshal(req.Metadata)
		if err != nil {
			return grellock.Record{}, fmt.Errorf("grelkube: lock metadata: %w", err)
		}
		meta = string(m)
	}
	// The renew path: our own valid hold, from the cached object.
	if l := b.cached(req.Name); l != nil {
		if s := read(l, time.Now()); s.valid && s.token == req.Token {
			now := time.Now()
			acquireOn(l, req, meta, req.Metadata != nil, now)
			if out, err := b.leases.Update(ctx, l, metav1.UpdateOptions{}); err == nil {
				b.remember(out)
				return record(req.Name, out, now)
			} else if !apierrors.IsConflict(err) {
				return grellock.Record{}, fmt.Errorf("grelkube: lock acquire: %w", err)
			}
		}
	}
	l, err := b.leases.Get(ctx, req.Name, metav1.GetOptions{})
	now := time.Now()
	switch {
	case apierrors.IsNotFound(err):
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: b.namespace}}
		acquireOn(l, req, meta, req.Metadata != nil, now)
		out, err := b.leases.Create(ctx, l, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return grellock.Record{Name: req.Name}, notAcquired(err)
		}
		if err != nil {
			return grellock.Record{}, fmt.Errorf("grelkube: lock acquire: %w", err)
		}
		b.remember(out)
		return record(req.Name, out, now)
	case err != nil:
		return grellock.Record{}, fmt.Errorf("grelkube: lock acquire: %w", err)
	}
	if s := read(l, now); s.valid && s.token != req.Token {
		rec, err := record(req.Name, l, now)
		if err != nil {
			return grellock.Record{}, err
		}
		return rec, grellock.ErrNotAcquired
	}
	acquireOn(l, req, meta, req.Metadata != nil, now)
	out, err := b.leases.Update(ctx, l, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		b.forget(req.Name)
		return grellock.Record{Name: req.Name}, notAcquired(err)
	}
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelkube: lock acquire: %w", err)
	}
	b.remember(out)
	return record(req.Name, out, now)
}

// modify applies change to the token's own valid Lease with one update from
// the cached object; after a conflict (or without a cached object) it gets
// the Lease and tries once more. It returns ErrNotHeld when the token does
// not hold a valid lease.
func (b *LockBackend) modify(ctx context.Context, name, token string, change func(l *coordinationv1.Lease, now time.Time)) (*coordinationv1.Lease, time.Time, error) {
	l := b.cached(name)
	if l != nil {
		if s := read(l, time.Now()); !s.valid || s.token != token {
			l = nil // another goroutine's write, or stale: read the Lease
		}
	}
	for attempt := 0; attempt < 2; attempt++ {
		if l == nil || attempt > 0 {
			var err error
			l, err = b.leases.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				b.forget(name)
				return nil, time.Time{}, grellock.ErrNotHeld
			}
			if err != nil {
				return nil, time.Time{}, err
			}
			b.remember(l)
		}
		now := time.Now()
		if s := read(l, now); !s.valid || s.token != token {
			return nil, now, grellock.ErrNotHeld
		}
		change(l, now)
		out, err := b.leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			b.remember(out)
			return out, now, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, now, err
		}
	}
	return nil, time.Time{}, grellock.ErrNotHeld
}

// Extend implements grellock.Backend: one update from the cached object.
func (b *LockBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	if err := checkName(req.Name); err != nil {
		return grellock.Record{}, err
	}
	out, now, err := b.modify(ctx, req.Name, req.Token, func(l *coordinationv1.Lease, now time.Time) { setLease(l, req.Lease, now) })
	if errors.Is(err, grellock.ErrNotHeld) {
		return grellock.Record{}, err
	}
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelkube: lock extend: %w", err)
	}
	return record(req.Name, out, now)
}

// Release implements grellock.Backend: one update that clears the holder
// (as client-go does) and keeps the fence and transitions.
func (b *LockBackend) Release(ctx context.Context, name, token string) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, _, err := b.modify(ctx, name, token, func(l *coordinationv1.Lease, now time.Time) {
		empty := ""
		l.Spec.HolderIdentity = &empty
		l.Spec.LeaseDurationSeconds = seconds(time.Second)
		l.Spec.RenewTime = &metav1.MicroTime{Time: now}
		delete(l.Annotations, AnnotationToken)
		delete(l.Annotations, AnnotationMetadata)
	})
	if err != nil && !errors.Is(err, grellock.ErrNotHeld) {
		return fmt.Errorf("grelkube: lock release: %w", err)
	}
	return err
}

// Get implements grellock.Backend.
func (b *LockBackend) Get(ctx context.Context, name string) (grellock.Record, error) {
	if err := checkName(name); err != nil {
		return grellock.Record{}, err
	}
	l, err := b.leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return grellock.Record{Name: name}, nil
	}
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelkube: lock get: %w", err)
	}
	return record(name, l, time.Now())
}

// LockBackends offers a grellock.Backend on every Kubernetes client of the
// app (each [Instance] in [InstancesGroup]) to grellock.Module, under the
// client's instance name, for Leases in the instance's namespace.
var LockBackends = provider.Backends(InstancesGroup, grellock.BackendGroup, "grelkube",
	func(_ fx.Lifecycle, in Instance) (string, grellock.Backend) {
		return in.Name, NewLockBackend(in.Client, in.Namespace)
	})
