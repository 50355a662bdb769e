package grelbreaker_test

import (
	"testing"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	"github.com/grelmicro/grelmicro-go/patterns/breaker/breakertest"
)

// TestMemoryConformance runs the Backend conformance suite on Memory, each
// case in a synctest bubble.
func TestMemoryConformance(t *testing.T) {
	breakertest.RunSynctest(t, func(*testing.T) grelbreaker.Backend { return grelbreaker.NewMemory() })
}
