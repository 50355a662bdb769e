package grelbreaker

import (
	"context"
	"sync"
)

// Memory is the in-memory [Backend], the default: breakers that share one
// Memory and one key share one state, within this process only. A
// [Breaker] on a Memory runs its state machine directly (no lookups, no
// allocations on the closed-state path).
type Memory struct {
	mu   sync.Mutex
	keys map[string]*core
}

var (
	_ Backend   = (*Memory)(nil)
	_ Forgetter = (*Memory)(nil)
)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{keys: map[string]*core{}} }

// String names the backend in logs.
func (m *Memory) String() string { return "memory" }

func (m *Memory) core(key string) *core {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.keys[key]
	if !ok {
		c = newCore()
		m.keys[key] = c
	}
	return c
}

// Load returns the key's state.
func (m *Memory) Load(ctx context.Context, key string, cfg *Config) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	return m.core(key).snapshot(cfg), nil
}

// Allow admits one call or refuses it.
func (m *Memory) Allow(ctx context.Context, key string, cfg *Config) (Admission, error) {
	if err := ctx.Err(); err != nil {
		return Admission{}, err
	}
	c := m.core(key)
	c.sync(cfg)
	d := c.admit(cfg, nil)
	snap := c.snapshot(cfg)
	a := Admission{Snapshot: snap, Admitted: d.ok}
	a.Changed = d.moved.ok && snap.Generation == d.moved.gen
	if d.ok {
		// The generation the call was admitted in, which its Record names.
		a.Generation = c.fullGen(genOf(d.w))
	} else if d.state == StateOpen {
		a.OpenRemaining = d.remaining
	}
	return a, nil
}

// Record counts one outcome.
func (m *Memory) Record(ctx context.Context, key string, cfg *Config, rec Record) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	c := m.core(key)
	mv := c.record(cfg, rec.Generation, rec.Outcome, rec.Slow, nil)
	s := c.snapshot(cfg)
	s.Changed = mv.ok && s.Generation == mv.gen
	return s, nil
}

// Set moves the key to state.
func (m *Memory) Set(ctx context.Context, key string, cfg *Config, state State) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	if err := validState(state); err != nil {
		return Snapshot{}, err
	}
	c := m.core(key)
	mv := c.set(cfg, state, nil)
	s := c.snapshot(cfg)
	s.Changed = s.Generation == mv.gen
	return s, nil
}

// Forget drops the key's state.
func (m *Memory) Forget(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.keys, key)
	m.mu.Unlock()
	return nil
}
