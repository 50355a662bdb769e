//go:build unix

package ratelimittest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grelmicro/grelmicro-go/patterns/internal/jsonfile"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
	"github.com/grelmicro/grelmicro-go/patterns/ratelimit/ratelimittest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fileBackend is a Backend shared by processes through a file under an
// exclusive flock: each decision reads the whole state, applies
// grelratelimit.Policy.Decide with the wall clock and writes it back. It
// is slow and real, which is what the harness needs to be tested. With
// fixed, its sliding window forgets the previous window: a fixed window,
// the broken store the harness must catch.
type fileBackend struct {
	path  string
	fixed bool
}

func (*fileBackend) Kind() string { return "file" }

func (f *fileBackend) locked(fn func(states map[string]grelratelimit.State) bool) error {
	states := map[string]grelratelimit.State{}
	return jsonfile.Update(f.path, &states, func(st *map[string]grelratelimit.State) bool { return fn(*st) })
}

func (f *fileBackend) Decide(_ context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	var d grelratelimit.Decision
	err := f.locked(func(states map[string]grelratelimit.State) bool {
		k := req.Name + "\x00" + req.Key
		now := time.Now().UnixNano()
		s := states[k]
		if req.Policy.Expiry(s) <= now {
			s = grelratelimit.State{}
		}
		if f.fixed && s.Time != 0 {
			if w := int64(req.Policy.Window); now-s.Time >= w {
				s = grelratelimit.State{} // a new window from this request
			}
			s.Prev = 0
		}
		d = req.Policy.Decide(&s, now, req.N, req.Peek)
		if !req.Peek {
			states[k] = s
		}
		return !req.Peek
	})
	return d, err
}

func (f *fileBackend) Reset(_ context.Context, name, key string) error {
	return f.locked(func(states map[string]grelratelimit.State) bool {
		delete(states, name+"\x00"+key)
		return true
	})
}

func newFileBackend(t *testing.T) grelratelimit.Backend {
	return &fileBackend{path: filepath.Join(t.TempDir(), "state.json")}
}

// TestFileBackendConformance runs the suite in real time on a backend that
// is not the memory one.
func TestFileBackendConformance(t *testing.T) {
	ratelimittest.Run(t, newFileBackend)
}

func TestProcessesTokenBucket(t *testing.T) {
	ratelimittest.RunProcesses(t, ratelimittest.Processes{
		Shared:   filepath.Join(t.TempDir(), "state.json"),
		Backend:  func(t *testing.T, path string) grelratelimit.Backend { return &fileBackend{path: path} },
		Duration: time.Second,
	})
}

func TestProcessesSlidingWindow(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = 40, 500*time.Millisecond
	ratelimittest.RunProcesses(t, ratelimittest.Processes{
		Shared:   filepath.Join(t.TempDir(), "state.json"),
		Backend:  func(t *testing.T, path string) grelratelimit.Backend { return &fileBackend{path: path} },
		Config:   cfg,
		Duration: 1200 * time.Millisecond,
	})
}

// TestProcessesCatchesAnUnsharedStore checks the harness itself: four
// processes that each limit in their own memory grant four times the
// limit, and RunProcesses must fail them. The failing run happens in a
// re-executed test binary, whose failure this test expects.
func TestProcessesCatchesAnUnsharedStore(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.TokenBucket)
	cfg.Rate, cfg.Period, cfg.Burst = 10, time.Second, 50
	if os.Getenv(unsharedVariable) == "1" {
		ratelimittest.RunProcesses(t, ratelimittest.Processes{
			Backend:  func(*testing.T, string) grelratelimit.Backend { return grelratelimit.NewMemory() },
			Config:   cfg,
			Duration: 500 * time.Millisecond,
		})
		return
	}
	most, first, _ := ratelimittest.Bound(cfg, 500*time.Millisecond)
	if first != 50 || most != 55 {
		t.Fatalf("Bound(500ms) = %d at most, %d first; want 55 and 50", most, first)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesCatchesAnUnsharedStore$", "-test.count=1")
	cmd.Env = append(os.Environ(), unsharedVariable+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("RunProcesses passed four processes limiting in their own memory:\n%s", out)
	}
	if !strings.Contains(string(out), "permits granted in") {
		t.Fatalf("RunProcesses failed, but not on the bound:\n%s", out)
	}
}

const unsharedVariable = "GREL_RATELIMITTEST_UNSHARED"

// TestProcessesCatchesAFixedWindow checks the harness itself: a store
// whose sliding window ignores the previous window (a fixed window) grants
// about 2 x Limit around the first boundary, and RunProcesses must fail
// it, while the whole-run bound alone (Limit x (ceil(d/Window) + 1)) would
// not. The failing run happens in a re-executed test binary.
func TestProcessesCatchesAFixedWindow(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = 40, 500*time.Millisecond
	if os.Getenv(fixedVariable) == "1" {
		ratelimittest.RunProcesses(t, ratelimittest.Processes{
			Shared:   os.Getenv(fixedPathVariable),
			Backend:  func(t *testing.T, path string) grelratelimit.Backend { return &fileBackend{path: path, fixed: true} },
			Config:   cfg,
			Duration: 1200 * time.Millisecond,
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesCatchesAFixedWindow$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fixedVariable+"=1", fixedPathVariable+"="+filepath.Join(t.TempDir(), "state.json"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("RunProcesses passed a fixed window:\n%s", out)
	}
	if !strings.Contains(string(out), "permits granted within") || strings.Contains(string(out), "permits granted in ") {
		t.Fatalf("RunProcesses failed, but not on the span bound alone:\n%s", out)
	}
}

const (
	fixedVariable     = "GREL_RATELIMITTEST_FIXED"
	fixedPathVariable = "GREL_RATELIMITTEST_FIXED_PATH"
)

// CheckSpans on recorded grants: what a sliding window grants around a
// boundary passes, what a fixed window grants fails, and so does a burst in
// the middle of a window.
func TestCheckSpans(t *testing.T) {
	cfg := grelratelimit.DefaultConfig(grelratelimit.SlidingWindow)
	cfg.Limit, cfg.Window = 10, time.Second
	ms := int64(time.Millisecond)
	// burst returns n grants sent at at (ms) and answered 1ms later.
	burst := func(at int64, n int) [][2]int64 {
		var g [][2]int64
		for range n {
			g = append(g, [2]int64{at * ms, (at + 1) * ms})
		}
		return g
	}
	spread := func(from, to int64, n int) [][2]int64 {
		var g [][2]int64
		for i := range int64(n) {
			at := from + (to-from)*i/int64(n)
			g = append(g, [2]int64{at * ms, (at + 1) * ms})
		}
		return g
	}
	tests := []struct {
		name   string
		grants [][2]int64
		fails  bool
	}{
		// 1 at the start, 9 at 900ms, then the sliding window lets the
		// next window's permits in as the previous one's weight falls.
		{"sliding window around a boundary", slices.Concat(burst(0, 1), burst(900, 9), spread(1000, 2000, 10)), false},
		{"fixed window: a full window on each side of the boundary", slices.Concat(burst(0, 1), burst(900, 9), burst(1000, 10)), true},
		{"a limit in one instant", burst(500, 10), false},
		{"over the limit in one instant", burst(500, 11), true},
		{"windows apart", slices.Concat(burst(0, 10), burst(1100, 10)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := ratelimittest.CheckSpans(cfg, tc.grants, 2*time.Millisecond)
			if (msg != "") != tc.fails {
				t.Errorf("CheckSpans = %q, want a failure: %v", msg, tc.fails)
			}
		})
	}
}
