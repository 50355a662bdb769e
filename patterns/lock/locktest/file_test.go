package grellocktest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/grelmicro/grelmicro-go/patterns/internal/jsonfile"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
	grellocktest "github.com/grelmicro/grelmicro-go/patterns/lock/locktest"
	"go.uber.org/goleak"
)

// fileBackend is a Backend on one JSON file guarded by flock(2): each
// operation is one exclusive read-modify-write of the file, shared by every
// process of the host. It exists to test the suite and the multi-process
// harness on a store that spans processes with no server; the adapters run
// the same tests on real stores.
type fileBackend struct{ path string }

type fileRec struct {
	Token, Holder, LastHolder string
	Fence                     uint64
	Transitions               int64
	Lease                     time.Duration
	Acquired, Renewed, Expire int64
	Meta                      map[string]string
}

func (f *fileBackend) update(ctx context.Context, fn func(now time.Time, st map[string]*fileRec) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var ferr error
	st := map[string]*fileRec{}
	err := jsonfile.Update(f.path, &st, func(st *map[string]*fileRec) bool {
		ferr = fn(time.Now(), *st)
		return true
	})
	if err != nil {
		return err
	}
	return ferr
}

func (r *fileRec) valid(now time.Time) bool { return r.Token != "" && now.UnixNano() < r.Expire }

func (r *fileRec) record(name string, now time.Time) grellock.Record {
	out := grellock.Record{Name: name, Fence: r.Fence, Transitions: r.Transitions}
	if r.valid(now) {
		out.Holder, out.Token, out.Lease, out.Metadata = r.Holder, r.Token, r.Lease, r.Meta
		out.AcquiredAt, out.RenewedAt, out.ExpiresAt = time.Unix(0, r.Acquired), time.Unix(0, r.Renewed), time.Unix(0, r.Expire)
	}
	return out
}

func (f *fileBackend) Acquire(ctx context.Context, req grellock.Request) (rec grellock.Record, err error) {
	err = f.update(ctx, func(now time.Time, st map[string]*fileRec) error {
		r := st[req.Name]
		if r == nil {
			r = &fileRec{}
			st[req.Name] = r
		}
		if r.valid(now) {
			if r.Token != req.Token {
				rec = r.record(req.Name, now)
				return grellock.ErrNotAcquired
			}
		} else {
			if r.Fence > 0 && r.LastHolder != req.Holder {
				r.Transitions++
			}
			r.Fence++
			r.Token, r.Holder, r.LastHolder, r.Acquired, r.Meta = req.Token, req.Holder, req.Holder, now.UnixNano(), req.Metadata
		}
		r.Lease, r.Renewed, r.Expire = req.Lease, now.UnixNano(), now.Add(req.Lease).UnixNano()
		rec = r.record(req.Name, now)
		return nil
	})
	return rec, err
}

func (f *fileBackend) Extend(ctx context.Context, req grellock.Request) (rec grellock.Record, err error) {
	err = f.update(ctx, func(now time.Time, st map[string]*fileRec) error {
		r := st[req.Name]
		if r == nil || !r.valid(now) || r.Token != req.Token {
			return grellock.ErrNotHeld
		}
		r.Lease, r.Renewed, r.Expire = req.Lease, now.UnixNano(), now.Add(req.Lease).UnixNano()
		rec = r.record(req.Name, now)
		return nil
	})
	return rec, err
}

func (f *fileBackend) Release(ctx context.Context, name, token string) error {
	return f.update(ctx, func(now time.Time, st map[string]*fileRec) error {
		r := st[name]
		if r == nil || !r.valid(now) || r.Token != token {
			return grellock.ErrNotHeld
		}
		r.Token, r.Holder, r.LastHolder, r.Meta, r.Expire = "", "", "", nil, now.UnixNano()
		return nil
	})
}

func (f *fileBackend) Get(ctx context.Context, name string) (rec grellock.Record, err error) {
	err = f.update(ctx, func(now time.Time, st map[string]*fileRec) error {
		rec = grellock.Record{Name: name}
		if r := st[name]; r != nil {
			rec = r.record(name, now)
		}
		return nil
	})
	return rec, err
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openFile(path string) (grellock.Backend, error) { return &fileBackend{path: path}, nil }

func newFileStore(t *testing.T) string { return filepath.Join(t.TempDir(), "locks.json") }

func TestFileBackendConformance(t *testing.T) {
	grellocktest.Run(t, grellocktest.PerTest(func(t *testing.T) func() grellock.Backend {
		path := newFileStore(t)
		return func() grellock.Backend { return &fileBackend{path: path} }
	}))
}

func TestFileBackendProcesses(t *testing.T) {
	var path string
	if !grellocktest.IsChild() {
		path = newFileStore(t)
	}
	holds := grellocktest.Contend(t, grellocktest.Contention{Shared: path, NewBackend: openFile})
	if len(holds) != 60 {
		t.Fatalf("%d holds", len(holds))
	}
}

func TestFileBackendFailover(t *testing.T) {
	var path string
	if !grellocktest.IsChild() {
		path = newFileStore(t)
	}
	terms := grellocktest.Failover(t, grellocktest.FailoverConfig{Shared: path, NewBackend: openFile})
	if len(terms) < 3 {
		t.Fatalf("%d terms, want at least 3 (two failovers)", len(terms))
	}
}

// CheckHolds must catch what it exists to catch.
func TestCheckHoldsCatchesOverlapAndFences(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name  string
		holds []grellocktest.Hold
		fails bool
	}{
		{"disjoint, increasing", []grellocktest.Hold{{PID: 1, Fence: 1, Start: at(0), End: at(5)}, {PID: 2, Fence: 2, Start: at(5), End: at(9)}}, false},
		{"overlap", []grellocktest.Hold{{PID: 1, Fence: 1, Start: at(0), End: at(5)}, {PID: 2, Fence: 2, Start: at(3), End: at(9)}}, true},
		{"fence repeats", []grellocktest.Hold{{PID: 1, Fence: 2, Start: at(0), End: at(5)}, {PID: 2, Fence: 2, Start: at(6), End: at(9)}}, true},
		{"fence decreases", []grellocktest.Hold{{PID: 1, Fence: 3, Start: at(0), End: at(5)}, {PID: 2, Fence: 2, Start: at(6), End: at(9)}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			grellocktest.CheckHolds(rec, tc.holds)
			if rec.failed != tc.fails {
				t.Errorf("CheckHolds failed=%v, want %v", rec.failed, tc.fails)
			}
		})
	}
}

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}
