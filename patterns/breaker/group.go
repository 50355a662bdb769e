package grelbreaker

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

const groupShards = 16

// Group keeps one breaker per key (per host, per tenant), created on first
// use, all with the group's config and listeners, at most MaxKeys of them:
// beyond it the least recently used breaker is dropped, and so is its state
// on a Memory backend. A Group is safe for concurrent use.
type Group struct {
	name        string
	backend     Backend
	opts        *options
	cfg         atomic.Pointer[Config]
	tel         *telemetry
	backendDesc string
	binding     grelconfig.Reloadable
	seed        maphash.Seed
	count       atomic.Int64
	tick        atomic.Int64 // use order, for the LRU across shards
	shards      [groupShards]groupShard

	retiredMu sync.Mutex
	retired   totals
}

type groupShard struct {
	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *member, most recent first
}

type member struct {
	b    *Breaker
	used int64
}

var _ grelconfig.Reloadable = (*Group)(nil)

// NewGroup returns a group named name on backend (nil for a fresh
// [Memory]); its config is resolved like [New]'s, from
// GREL_BREAKER_{NAME}_*. Each key's breaker keeps its state under
// "<name>/<key>" in the backend.
func NewGroup(name string, backend Backend, opts ...Option) (*Group, error) {
	o := collect(opts)
	cfg, err := spec.Resolve(o.registry, name, o.settings...)
	if err != nil {
		return nil, newError(name, err)
	}
	g, err := buildGroup(name, backend, cfg, o)
	if err != nil {
		return nil, err
	}
	g.binding = spec.Bind(name, o.settings, g.Reconfigure)
	return g, nil
}

// NewGroupFromConfig returns a group with cfg as given; it reads no
// environment.
func NewGroupFromConfig(name string, backend Backend, cfg Config, opts ...Option) (*Group, error) {
	o := collect(opts)
	cfg, err := fromConfig(name, cfg, o)
	if err != nil {
		return nil, err
	}
	return buildGroup(name, backend, cfg, o)
}

func buildGroup(name string, backend Backend, cfg Config, o *options) (*Group, error) {
	if backend == nil {
		backend = NewMemory()
	}
	g := &Group{name: name, backend: backend, opts: o, backendDesc: describe(backend, o), seed: maphash.MakeSeed()}
	g.cfg.Store(&cfg)
	for i := range g.shards {
		g.shards[i].m = map[string]*list.Element{}
	}
	tel, err := newGroupTelemetry(o.meter, g)
	if err != nil {
		return nil, newError(name, err)
	}
	g.tel = tel
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Config returns the running config.
func (g *Group) Config() Config { return *g.cfg.Load() }

// Len returns the number of breakers the group keeps.
func (g *Group) Len() int { return int(g.count.Load()) }

// Get returns the breaker of key, creating it if needed.
func (g *Group) Get(key string) *Breaker {
	sh := &g.shards[maphash.String(g.seed, key)%groupShards]
	sh.mu.Lock()
	if e, ok := sh.m[key]; ok {
		sh.lru.MoveToFront(e)
		m := e.Value.(*member)
		m.used = g.tick.Add(1)
		sh.mu.Unlock()
		return m.b
	}
	// build cannot fail for a member: the config is validated and the
	// group owns the instruments.
	b, _ := build(g.name, g.backend, *g.cfg.Load(), g.opts, &memberOf{key: key, cfg: &g.cfg, tel: g.tel})
	sh.m[key] = sh.lru.PushFront(&member{b: b, used: g.tick.Add(1)})
	n := g.count.Add(1)
	sh.mu.Unlock()
	if limit := int64(g.cfg.Load().MaxKeys); n > limit {
		g.evict(limit)
	}
	return b
}

// Execute runs fn on the breaker of key.
func (g *Group) Execute(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	return g.Get(key).Execute(ctx, fn)
}

// evict drops the least recently used breakers until limit are left: each
// shard's list is in use order, so the least recently used of all is the
// oldest of the shards' last ones.
func (g *Group) evict(limit int64) {
	for g.count.Load() > limit {
		var oldest *groupShard
		used := int64(0)
		for i := range g.shards {
			s := &g.shards[i]
			s.mu.Lock()
			if e := s.lru.Back(); e != nil {
				if u := e.Value.(*member).used; oldest == nil || u < used {
					oldest, used = s, u
				}
			}
			s.mu.Unlock()
		}
		if oldest == nil {
			return
		}
		oldest.mu.Lock()
		e := oldest.lru.Back()
		if e == nil || e.Value.(*member).used != used {
			oldest.mu.Unlock()
			continue // it moved meanwhile: look again
		}
		b := e.Value.(*member).b
		oldest.lru.Remove(e)
		delete(oldest.m, b.groupKey)
		oldest.mu.Unlock()
		g.count.Add(-1)
		g.retire(b)
	}
}

func (g *Group) retire(b *Breaker) {
	t := b.totals()
	g.retiredMu.Lock()
	g.retired = totals{g.retired.succ + t.succ, g.retired.fail + t.fail, g.retired.slow + t.slow,
		g.retired.ignored + t.ignored, g.retired.rejected + t.rejected}
	g.retiredMu.Unlock()
	if f, ok := g.backend.(*Memory); ok {
		_ = f.Forget(context.Background(), b.key)
	}
}

// observe sums the totals of every breaker, dropped ones included, and
// counts the breakers by state.
func (g *Group) observe() (totals, [4]int64) {
	g.retiredMu.Lock()
	t := g.retired
	g.retiredMu.Unlock()
	var states [4]int64
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		for e := s.lru.Front(); e != nil; e = e.Next() {
			b := e.Value.(*member).b
			bt := b.totals()
			t = totals{t.succ + bt.succ, t.fail + bt.fail, t.slow + bt.slow, t.ignored + bt.ignored, t.rejected + bt.rejected}
			states[b.peekState()]++
		}
		s.mu.Unlock()
	}
	return t, states
}

// Reconfigure validates cfg and makes it every breaker's config from its
// next call on; a lower MaxKeys drops the least recently used breakers now.
func (g *Group) Reconfigure(cfg Config) error {
	cfg = normalize(cfg)
	if err := spec.Validate(cfg); err != nil {
		return newError(g.name, err)
	}
	g.cfg.Store(&cfg)
	g.evict(int64(cfg.MaxKeys))
	return nil
}

// ConfigKey identifies the group in a [grelconfig.Registry].
func (g *Group) ConfigKey() grelconfig.Key { return grelconfig.Key{Kind: Kind, Instance: g.name} }

// Reload resolves the config again from reg's source and applies it.
func (g *Group) Reload(reg *grelconfig.Registry) error {
	if g.binding == nil {
		return nil
	}
	return g.binding.Reload(reg)
}

// Stop releases the group's metric instruments.
func (g *Group) Stop(context.Context) error { return g.tel.stop() }
