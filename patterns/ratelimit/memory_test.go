package grelratelimit_test

import (
	"testing"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"github.com/grelmicro/grelmicro-go/patterns/ratelimit/ratelimittest"
)

func newMemory(*testing.T) grelratelimit.Backend { return grelratelimit.NewMemory() }

// TestMemoryConformance runs the suite in fake time: every value exact.
func TestMemoryConformance(t *testing.T) {
	ratelimittest.Run(t, newMemory, ratelimittest.Synctest())
}

// TestMemoryConformanceRealTime runs the same table on the real clock, as
// the adapters do, so that the suite's real-time tolerances are exercised.
func TestMemoryConformanceRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("real time: a few seconds")
	}
	ratelimittest.Run(t, newMemory)
}
