package grelratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const (
	memoryShards = 64 // a power of two
	// DefaultMemoryMaxKeys is the default bound on the keys a Memory
	// backend holds.
	DefaultMemoryMaxKeys = 1 << 20
	minSweep             = 64
	evictionSample       = 8
)

// Memory is the in-process [Backend]: state lives in this process only, so
// every replica limits on its own. It is safe for concurrent use and makes
// no allocation per decision on a known key (a new key costs one).
//
// Keys are spread over 64 shards, each with its own mutex. Memory is
// bounded: a key whose state has expired (a full bucket, an empty window)
// is idle and is forgotten by an amortised sweep of its shard, run each
// time the shard has taken as many new keys as its last sweep left (so
// idle keys linger only while few new keys come); and a shard never holds more
// than its share of MaxKeys (default [DefaultMemoryMaxKeys]): inserting
// into a full shard first evicts, among 8 sampled keys, the one closest to
// expiry, which may let that key through early. Each key costs about 100
// bytes plus the length of its name and key.
//
// Time comes from the time package (the monotonic clock), so
// testing/synctest controls it in tests. Memory starts no goroutine.
type Memory struct {
	base     time.Time
	seed     maphash.Seed
	perShard int
	shards   [memoryShards]memoryShard
}

type memoryShard struct {
	mu      sync.Mutex
	m       map[memoryKey]*memoryEntry
	inserts int      // new keys since the last sweep
	swept   int      // keys left by the last sweep
	_       [40]byte // keep shards on separate cache lines
}

type memoryKey struct{ name, key string }

type memoryEntry struct {
	state  State
	expiry int64
}

// MemoryOption configures a [Memory] backend.
type MemoryOption func(*Memory)

// WithMemoryMaxKeys bounds the number of keys held (default
// [DefaultMemoryMaxKeys]); values below 64 mean 64.
func WithMemoryMaxKeys(n int) MemoryOption {
	return func(m *Memory) { m.perShard = max(n, memoryShards) / memoryShards }
}

// NewMemory returns an empty in-process backend.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{base: time.Now(), seed: maphash.MakeSeed(), perShard: DefaultMemoryMaxKeys / memoryShards}
	for _, o := range opts {
		o(m)
	}
	return m
}

var _ Backend = (*Memory)(nil)

// Kind returns "memory".
func (*Memory) Kind() string { return "memory" }

// now is nanoseconds on the monotonic clock since the backend was made,
// plus one so that it is never 0 (the zero State's time).
func (m *Memory) now() int64 { return int64(time.Since(m.base)) + 1 }

// shard picks a key's shard by the key alone: limiters sharing a Memory
// have the same keys spread the same way, which is fine.
func (m *Memory) shard(key string) *memoryShard {
	return &m.shards[maphash.String(m.seed, key)&(memoryShards-1)]
}

// Decide makes one decision under the shard's mutex; ctx is not used.
func (m *Memory) Decide(_ context.Context, req Request) (Decision, error) {
	k := memoryKey{req.Name, req.Key}
	sh := m.shard(req.Key)
	sh.mu.Lock()
	now := m.now()
	var s State
	e := sh.m[k] // one lookup; a known key is updated in place
	if e != nil && e.expiry > now {
		s = e.state // else idle: the same as no state
	}
	d := req.Policy.Decide(&s, now, req.N, req.Peek)
	if !req.Peek {
		expiry := req.Policy.Expiry(s)
		switch {
		case expiry <= now:
			if e != nil {
				delete(sh.m, k)
			}
		case e != nil:
			e.state, e.expiry = s, expiry
		default:
			sh.insert(k, &memoryEntry{state: s, expiry: expiry}, now, m.perShard)
		}
	}
	sh.mu.Unlock()
	return d, nil
}

func (sh *memoryShard) insert(k memoryKey, e *memoryEntry, now int64, limit int) {
	if sh.m == nil {
		sh.m = make(map[memoryKey]*memoryEntry)
	}
	// A sweep costs the shard's size and runs once as many new keys have
	// come: amortised O(1) per new key.
	if sh.inserts++; sh.inserts >= max(sh.swept, minSweep) {
		for key, v := range sh.m {
			if v.expiry <= now {
				delete(sh.m, key)
			}
		}
		sh.inserts, sh.swept = 0, len(sh.m)
	}
	if len(sh.m) >= limit {
		var victim memoryKey
		var soonest int64
		i := 0
		for key, v := range sh.m {
			if i == 0 || v.expiry < soonest {
				victim, soonest = key, v.expiry
			}
			if i++; i == evictionSample {
				break
			}
		}
		delete(sh.m, victim)
	}
	sh.m[k] = e
}

// Reset forgets the key.
func (m *Memory) Reset(_ context.Context, name, key string) error {
	sh := m.shard(key)
	sh.mu.Lock()
	delete(sh.m, memoryKey{name, key})
	sh.mu.Unlock()
	return nil
}

// Len returns the number of keys held, idle ones not yet swept included.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
