//go:build unix

package ratelimittest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
// is slow and real, which is what the harness needs to be tested.
type fileBackend struct{ path string }

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
