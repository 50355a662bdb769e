package grelbreaker

import (
	"context"

	"github.com/grelmicro/grelmicro-go/internal/fxbackend"
)

// Backend stores breaker state, so that several breakers (in one process
// or in several) share one state per key. [Memory] is the default; shared
// adapters (grelredis.NewBreakerBackend) implement it on a store.
//
// Every method is one atomic operation on the store (one round trip, one
// script): it reads the key's state, applies the transitions that are due
// and answers. No method holds anything across the user's function: a call
// is Allow, then the function, then Record. cfg carries the thresholds of
// the calling breaker; the store keeps no config, so a Reconfigure takes
// effect at the next operation. Backends use their own clock (a store's
// server time) for open durations and time windows.
type Backend interface {
	// Load returns the key's state without changing it.
	Load(ctx context.Context, key string, cfg *Config) (Snapshot, error)
	// Allow admits one call or refuses it. It moves an open key whose open
	// duration has passed to half-open, and takes one of the half-open
	// trial slots.
	Allow(ctx context.Context, key string, cfg *Config) (Admission, error)
	// Record counts one outcome of a call admitted in rec.Generation and
	// applies the transition it causes. An outcome of another generation
	// changes nothing.
	Record(ctx context.Context, key string, cfg *Config, rec Record) (Snapshot, error)
	// Set moves the key to state (StateOpen, StateClosed or
	// StateForcedOpen), whatever its state, with fresh counts.
	Set(ctx context.Context, key string, cfg *Config, state State) (Snapshot, error)
}

// Forgetter is implemented by Backends that can drop a key's state; a
// [Group] calls it for the breakers it evicts.
type Forgetter interface {
	Forget(ctx context.Context, key string) error
}

// BackendGroup is the Fx value group through which providers offer their
// breaker Backends, one [NamedBackend] per client instance.
const BackendGroup = "grel.breaker.backends"

// NamedBackend is one Backend offered in [BackendGroup]; Name is the
// provider instance's name ("" for its default instance).
type NamedBackend = fxbackend.Entry[Backend]
