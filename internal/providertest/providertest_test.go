package providertest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/goleak"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServers(t *testing.T) {
	if c, err := net.DialTimeout("tcp", ClosedPort(t), time.Second); err == nil {
		c.Close()
		t.Error("ClosedPort accepted a connection")
	}
	c, err := net.DialTimeout("tcp", SilentServer(t), time.Second)
	if err != nil {
		t.Fatalf("SilentServer refused the handshake: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("SilentServer answered")
	}
}

var errDown = errors.New("test: down")

type dialError struct{ err error }

func (e *dialError) Error() string        { return "test: cannot reach: " + e.err.Error() }
func (e *dialError) Is(target error) bool { return target == errDown }

// dialer is a provider whose Start dials addr and reads one byte, within
// ctx; Ready answers errDown until up is set.
type dialer struct {
	addr    string
	up      bool
	stopped bool
}

func (d *dialer) Start(ctx context.Context) error {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.addr)
	if err == nil {
		defer c.Close()
		dl, _ := ctx.Deadline()
		_ = c.SetReadDeadline(dl)
		_, err = c.Read(make([]byte, 1))
	}
	return &dialError{err: errors.New(d.addr + ": " + err.Error())}
}

func (d *dialer) Stop(context.Context) error { d.stopped = true; return nil }

func (d *dialer) Ready(context.Context) error {
	if d.stopped {
		return errStopped
	}
	if !d.up {
		return errDown
	}
	return nil
}

var errStopped = errors.New("test: stopped")

func TestStartFailsWithinDeadline(t *testing.T) {
	var opened []*dialer
	StartFailsWithinDeadline[*dialError](t, errDown, "hunter2", func(_ *testing.T, addr string) Lifecycle {
		d := &dialer{addr: addr}
		opened = append(opened, d)
		return d
	})
	if len(opened) != 2 || !opened[0].stopped || !opened[1].stopped {
		t.Fatalf("opened %d providers, stopped: %v", len(opened), opened)
	}
}

func TestRequireStoppedAndChecks(t *testing.T) {
	d := &dialer{up: true}
	RequireChecks(t, []grelhealth.Check{
		{Name: "test:b", Func: d.Ready},
		{Name: "test", Func: d.Ready},
	}, "test", "test:b")
	RequireStopped(t, d, errStopped)
}

type flipServer struct{ d *dialer }

func (s flipServer) Stop()  { s.d.up = false }
func (s flipServer) Start() { s.d.up = true }

func TestRequireRecoversAndEventually(t *testing.T) {
	d := &dialer{up: true}
	RequireRecovers(t, d, flipServer{d}, errDown, time.Second, time.Second)
	calls := 0
	Eventually(t, 5*time.Second, "third call", func(context.Context) error {
		calls++
		if calls < 3 {
			return errDown
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("Eventually called %d times, want 3", calls)
	}
}

// gated is a provider with the shared lifecycle state.
type gated struct{ state provider.State }

var errNotStarted = errors.New("test: not started")

func (g *gated) Start(context.Context) error {
	if g.state.Stopped() {
		return errStopped
	}
	g.state.MarkStarted()
	return nil
}
func (g *gated) Stop(context.Context) error { g.state.Stop(func() {}); return nil }
func (g *gated) Ready(context.Context) error {
	return g.state.Gate(errNotStarted, errStopped)
}

func TestRequireLifecycle(t *testing.T) {
	RequireLifecycle(t, &gated{}, errNotStarted, errStopped)
}

type nameDeps struct{ fx.In }

func TestRefusesBadName(t *testing.T) {
	named := func(name string) fx.Option {
		return provider.Provide("greltest", name, "test.instances", func(nameDeps) (provider.Parts[*gated, *gated, string], error) {
			g := &gated{}
			return provider.Parts[*gated, *gated, string]{Provider: g, Client: g, Instance: name,
				Check: grelhealth.Check{Name: provider.CheckName("test", name), Func: g.Ready}, Start: g.Start, Stop: g.Stop}, nil
		})
	}
	RefusesBadName(t, "greltest", func(name string) error { return provider.ValidateName("greltest", name) }, named)
}
