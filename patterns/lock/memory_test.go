package grellock_test

import (
	"testing"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
)

// The in-memory backend passes the suite every adapter runs, in real time.
func TestMemoryConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		m := grellock.NewMemory()
		return func() grellock.Backend { return m }
	}))
}
