package grellock

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"
)

// Memory is the in-process [Backend]: every lock lives in this process's
// memory, so it excludes goroutines of one process only. It uses the time
// package directly, so testing/synctest controls its clock. Its zero value
// is an empty backend, like [NewMemory]'s.
type Memory struct {
	mu    sync.Mutex
	locks map[string]*memEntry
}

type memEntry struct {
	token, holder   string
	lastHolder      string // kept after expiry, cleared by a release
	fence           uint64
	transitions     int64
	lease           time.Duration
	acquired, renew time.Time
	expires         time.Time
	meta            map[string]string
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{locks: make(map[string]*memEntry)} }

// Kind returns "memory".
func (*Memory) Kind() string { return "memory" }

var errBadRequest = errors.New("grellock: invalid request: name, token and a positive lease are required")

// checkRequest refuses what Acquire and Extend cannot serve: a done ctx
// (its error as is) and a request without a name, a token or a lease.
func checkRequest(ctx context.Context, req Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Name == "" || req.Token == "" || req.Lease <= 0 {
		return errBadRequest
	}
	return nil
}

func (e *memEntry) valid(now time.Time) bool { return e.token != "" && now.Before(e.expires) }

func (e *memEntry) record(name string, now time.Time) Record {
	r := Record{Name: name, Fence: e.fence, Transitions: e.transitions}
	if e.valid(now) {
		r.Holder, r.Token, r.Lease = e.holder, e.token, e.lease
		r.AcquiredAt, r.RenewedAt, r.ExpiresAt = e.acquired, e.renew, e.expires
		r.Metadata = e.meta
	}
	return r
}

// Acquire implements [Backend].
func (m *Memory) Acquire(ctx context.Context, req Request) (Record, error) {
	if err := checkRequest(ctx, req); err != nil {
		return Record{}, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[req.Name]
	if e == nil {
		if m.locks == nil {
			m.locks = make(map[string]*memEntry)
		}
		e = &memEntry{}
		m.locks[req.Name] = e
	}
	if e.valid(now) {
		if e.token != req.Token {
			return e.record(req.Name, now), ErrNotAcquired
		}
		e.renew, e.expires, e.lease = now, now.Add(req.Lease), req.Lease
		if req.Metadata != nil {
			e.meta = maps.Clone(req.Metadata)
		}
		return e.record(req.Name, now), nil
	}
	if e.fence > 0 && e.lastHolder != req.Holder {
		e.transitions++
	}
	e.fence++
	e.token, e.holder, e.lastHolder = req.Token, req.Holder, req.Holder
	e.lease, e.acquired, e.renew, e.expires = req.Lease, now, now, now.Add(req.Lease)
	e.meta = maps.Clone(req.Metadata)
	return e.record(req.Name, now), nil
}

// Extend implements [Backend].
func (m *Memory) Extend(ctx context.Context, req Request) (Record, error) {
	if err := checkRequest(ctx, req); err != nil {
		return Record{}, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[req.Name]
	if e == nil || !e.valid(now) || e.token != req.Token {
		return Record{}, ErrNotHeld
	}
	e.renew, e.expires, e.lease = now, now.Add(req.Lease), req.Lease
	return e.record(req.Name, now), nil
}

// Release implements [Backend].
func (m *Memory) Release(ctx context.Context, name, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[name]
	if e == nil || !e.valid(now) || e.token != token || token == "" {
		return ErrNotHeld
	}
	e.token, e.holder, e.lastHolder, e.meta = "", "", "", nil
	e.expires = now
	return nil
}

// Get implements [Backend].
func (m *Memory) Get(ctx context.Context, name string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[name]
	if e == nil {
		return Record{Name: name}, nil
	}
	return e.record(name, now), nil
}
