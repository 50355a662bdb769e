package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexliesenfeld/health"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
)

// readyzCallers is how many goroutines call /readyz at once.
const readyzCallers = 64

// The three checks both checkers serve: in-memory, instant, passing, so that
// the benchmark measures the checker and its handler, not the checks.
var readyzCheckNames = []string{"cache", "db", "queue"}

func readyzCheck(context.Context) error { return nil }

// BenchmarkReadyz serves /readyz with three critical checks, cached for 1s,
// each with a 5s timeout, to 64 concurrent callers. Both answer with a
// status code and no body: grel's /readyz has none, and alexliesenfeld/health
// is given details off and a status-only writer, so neither encodes JSON.
//
//	go test -run '^$' -bench Readyz -benchmem . | go run ./cmd/benchratio
func BenchmarkReadyz(b *testing.B) {
	var grel, peer readyzResult
	b.Run("grel", func(b *testing.B) {
		c, err := grelhealth.NewFromConfig(grelhealth.Config{Timeout: 5 * time.Second, TTL: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = c.Stop(context.Background()) }()
		for _, name := range readyzCheckNames {
			if err := c.Register(grelhealth.Check{Name: name, Func: readyzCheck}); err != nil {
				b.Fatal(err)
			}
		}
		grel = runReadyz(b, grelhealth.NewHandler(c).Readyz())
	})
	b.Run("alexliesenfeld", func(b *testing.B) {
		opts := []health.CheckerOption{
			health.WithCacheDuration(time.Second),
			health.WithTimeout(5 * time.Second),
			health.WithDisabledDetails(),
		}
		for _, name := range readyzCheckNames {
			opts = append(opts, health.WithCheck(health.Check{Name: name, Check: readyzCheck, Timeout: 5 * time.Second}))
		}
		checker := health.NewChecker(opts...)
		defer checker.Stop()
		peer = runReadyz(b, health.NewHandler(checker, health.WithResultWriter(statusOnlyWriter{})))
	})
	if grel.nsPerOp > 0 && peer.nsPerOp > 0 {
		b.Logf("grel/alexliesenfeld: ns/op %.0f / %.0f = %.2f; allocs/op %.1f / %.1f",
			grel.nsPerOp, peer.nsPerOp, grel.nsPerOp/peer.nsPerOp, grel.allocsPerOp, peer.allocsPerOp)
	}
}

type readyzResult struct{ nsPerOp, allocsPerOp float64 }

func runReadyz(b *testing.B, h http.Handler) readyzResult {
	// One request fills the caches, so that the loop measures the steady
	// state: probes served from results younger than the TTL.
	if w := newDiscardWriter(); func() int { h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil)); return w.code }() != http.StatusOK {
		b.Fatalf("/readyz = %d", w.code)
	}
	procs := runtime.GOMAXPROCS(0)
	par := (readyzCallers + procs - 1) / procs
	b.SetParallelism(par)
	b.ReportAllocs()
	var bad atomic.Int64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		w := newDiscardWriter()
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				bad.Add(1)
			}
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d answers were not 200", n)
	}
	b.ReportMetric(float64(par*procs), "callers")
	return readyzResult{
		nsPerOp:     float64(b.Elapsed().Nanoseconds()) / float64(b.N),
		allocsPerOp: float64(after.Mallocs-before.Mallocs) / float64(b.N),
	}
}

// discardWriter is a reusable http.ResponseWriter, so that the benchmark
// does not count a recorder's allocations.
type discardWriter struct {
	hdr  http.Header
	code int
}

func newDiscardWriter() *discardWriter { return &discardWriter{hdr: http.Header{}} }

func (w *discardWriter) reset()                      { clear(w.hdr); w.code = 0 }
func (w *discardWriter) Header() http.Header         { return w.hdr }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// statusOnlyWriter answers with the status code alone, like grel's /readyz.
type statusOnlyWriter struct{}

func (statusOnlyWriter) Write(_ *health.CheckerResult, code int, w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(code)
	return nil
}
