package grelkube

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A Lease written by anyone (kubectl edit, another client) is read without
// panicking; a Lease without a holder is never reported held.
func FuzzLockReadLease(f *testing.F) {
	f.Add("pod-a", "tok", "3", "1500", int32(2), int64(0), int64(0))
	f.Add("", "", "", "", int32(0), int64(-5), int64(1))
	f.Add("x", "t", "-1", "abc", int32(-3), int64(1<<40), int64(-1<<40))
	f.Fuzz(func(t *testing.T, holder, token, fence, leaseMs string, seconds int32, renewOffsetMs, acquireOffsetMs int64) {
		now := time.Unix(1_700_000_000, 0)
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{
			AnnotationToken: token, AnnotationFence: fence, AnnotationLease: leaseMs,
		}}}
		l.Spec.HolderIdentity = &holder
		l.Spec.LeaseDurationSeconds = &seconds
		l.Spec.RenewTime = &metav1.MicroTime{Time: now.Add(time.Duration(renewOffsetMs) * time.Millisecond)}
		l.Spec.AcquireTime = &metav1.MicroTime{Time: now.Add(time.Duration(acquireOffsetMs) * time.Millisecond)}
		rec, err := record("n", l, now)
		if err != nil {
			t.Fatal(err)
		}
		if holder == "" && rec.Holder != "" {
			t.Fatalf("a Lease without a holder reported held: %+v", rec)
		}
		if rec.Holder != "" && !rec.ExpiresAt.After(now) {
			t.Fatalf("an expired Lease reported held: %+v", rec)
		}
	})
}
