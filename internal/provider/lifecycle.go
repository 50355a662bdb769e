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

// State is a provider's lifecycle state: not started, started, stopped. Its
// zero value is not started.
type State struct {
	started atomic.Bool
	stopped atomic.Bool
	once    sync.Once
}

// MarkStarted records a successful Start. It changes nothing after Stop.
func (s *State) MarkStarted() { s.started.Store(true) }

// Stop marks the provider stopped, then runs release, the first time only;
// later calls return at once.
func (s *State) Stop(release func()) {
	s.once.Do(func() {
		s.stopped.Store(true)
		release()
	})
}

// Stopped reports whether Stop was called: Ready then answers stopped.
func (s *State) Stopped() bool { return s.stopped.Load() }

// Gate is what Ready answers before it asks the server: stopped after Stop,
// notStarted before a Start succeeded, nil in between.
func (s *State) Gate(notStarted, stopped error) error {
	switch {
	case s.stopped.Load():
		return stopped
	case !s.started.Load():
		return notStarted
	}
	return nil
}

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
