package provider

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// BeforeDeadline returns a ctx that ends a little before ctx's deadline (a
// tenth of the time left, at most 250ms), so that Start reports its own
// error, naming the server, before Fx gives up on the hook with a bare
// "context deadline exceeded".
func BeforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(time.Until(dl)/10, 250*time.Millisecond)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// JoinCtxErr returns err, joined with ctx's error when ctx has ended and err
// does not already match it: a driver's "i/o timeout" then still says that
// the deadline was the cause (errors.Is context.DeadlineExceeded).
func JoinCtxErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return errors.Join(ctxErr, err)
	}
	return err
}

// CheckName returns the readiness check's name: kind ("redis") for the
// default instance, "<kind>:<name>" otherwise.
func CheckName(kind, name string) string {
	if name == "" {
		return kind
	}
	return kind + ":" + name
}

// Stopping is a provider's stopped state. Its zero value is ready to use.
type Stopping struct {
	stopped atomic.Bool
	once    sync.Once
}

// Stop marks the provider stopped, then runs release, the first time only;
// later calls return at once.
func (s *Stopping) Stop(release func()) {
	s.once.Do(func() {
		s.stopped.Store(true)
		release()
	})
}

// Stopped reports whether Stop was called: Ready then answers ErrStopped.
func (s *Stopping) Stopped() bool { return s.stopped.Load() }

// Unreachable is the message of a provider's connect error:
// "<pkg>: <verb> <target>[ (instance <name>)]: <err>", e.g. "grelredis:
// cannot reach redis://:xxxxx@10.0.0.5:6379/0: connection refused".
// target must already be redacted.
func Unreachable(pkg, verb, target, instance string, err error) string {
	inst := ""
	if instance != "" {
		inst = " (instance " + instance + ")"
	}
	return pkg + ": " + verb + " " + target + inst + ": " + err.Error()
}
