package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/fx"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// coordinationExample shows a distributed lock and a leader election on the
// service's store (SQLite by default: the file GREL_SQLITE_PATH,
// ./grelmicro.db), so that several copies of the service coordinate through
// it:
//
//   - POST /coordination/report runs a critical section under the lock
//     "report" (GREL_LOCK_REPORT_*): it waits up to 2s for the lock and
//     answers with the fence the store minted, which a real resource would
//     check on every write;
//   - GET /coordination/leader tells whether this copy leads the election
//     "scheduler" (GREL_LEADERELECTION_SCHEDULER_*) and shows the record
//     every copy sees: holder, fence, transitions, acquire and renew times.
//
// Start two copies on different ports (GREL_HTTP_ADDR=127.0.0.1:8081) and
// stop the leader: the other leads at its next attempt, because a stopping
// leader releases its lease. The store is the one backends.go picks.
var coordinationExample = fx.Options(
	grellock.Module,
	grellock.Named("report"),
	grellock.NamedElection("scheduler"),
	provideRoutes(func(d coordinationDeps) []Route {
		return []Route{
			{Pattern: "POST /coordination/report", Handler: reportHandler(d.Report),
				Doc: "a critical section under the lock \"report\" (answers with its fence)"},
			{Pattern: "GET /coordination/leader", Handler: leaderHandler(d.Scheduler),
				Doc: "whether this copy leads the election \"scheduler\", and the leader record"},
		}
	}),
)

type coordinationDeps struct {
	fx.In
	Report    *grellock.Lock           `name:"report"`
	Scheduler *grellock.LeaderElection `name:"scheduler"`
}

func reportHandler(l *grellock.Lock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h, err := l.AcquireWithin(r.Context(), 2*time.Second)
		if err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, grellock.ErrNotAcquired) {
				status = http.StatusConflict
			}
			http.Error(w, err.Error(), status)
			return
		}
		waited := time.Since(start)
		defer h.Release(context.WithoutCancel(r.Context())) //nolint:errcheck // the lease ends anyway
		// The critical section: the work would send h.Fence() with each
		// write so the resource can refuse a holder that lost the lock.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-h.Done():
			http.Error(w, "lock lost during the report", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"lock":      l.Name(),
			"holder":    h.Holder(),
			"fence":     h.Fence(),
			"waited_ms": waited.Milliseconds(),
		})
	})
}

func leaderHandler(e *grellock.LeaderElection) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := e.Leader(r.Context())
		if err != nil {
			http.Error(w, "leader record unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"election":    e.Name(),
			"identity":    e.Identity(),
			"is_leader":   e.IsLeader(),
			"holder":      rec.Holder,
			"fence":       rec.Fence,
			"transitions": rec.Transitions,
			"acquired_at": rec.AcquiredAt,
			"renewed_at":  rec.RenewedAt,
		})
	})
}
