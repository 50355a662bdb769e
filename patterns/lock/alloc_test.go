package grellock_test

import (
	"context"
	"testing"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// The in-memory hot paths: checking and extending a hold allocate nothing;
// an acquire and release allocates the hold and its token only.
//
// It runs under -race too (make test runs only -race): the race detector
// adds no heap allocations on these paths.
func TestMemoryAllocations(t *testing.T) {
	l, err := grellock.New("job", grellock.NewMemory(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := l.TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
		fn   func()
	}{
		{"Held", 0, func() { _ = h.Held() }},
		{"Extend", 0, func() {
			if err := h.Extend(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		if got := testing.AllocsPerRun(1000, tc.fn); got != tc.want {
			t.Errorf("%s: %v allocs, want %v", tc.name, got, tc.want)
		}
	}
	_ = h.Release(ctx)
	if got := testing.AllocsPerRun(1000, func() {
		h, err := l.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = h.Release(ctx)
	}); got != 2 {
		t.Errorf("TryAcquire + Release: %v allocs, want 2 (the hold and its token)", got)
	}
}
