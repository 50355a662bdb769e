// Package providertest holds the test helpers the provider packages share:
// servers that are down or silent, starting a provider for a test, the
// start-failure and stop checks every provider promises, the readiness
// checks a Module contributes, and the rate limiter answers on a store that
// is down. Real servers come from internal/testenv; this package starts
// none.
package providertest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
)

// Lifecycle is a provider's Start and Stop.
type Lifecycle interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Readiness is a provider with its readiness check.
type Readiness interface {
	Lifecycle
	Ready(ctx context.Context) error
}

// StartTimeout bounds [Start].
const StartTimeout = 10 * time.Second

// Start starts p within [StartTimeout], failing the test if it cannot, and
// stops it at cleanup.
func Start(t testing.TB, p Lifecycle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
}

// SilentServer listens on loopback and never accepts: connections complete
// in the kernel's backlog and then hear nothing, like a hung server. It
// returns host:port; the listener closes at cleanup.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// ClosedPort returns a loopback host:port nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Eventually polls cond, each call bounded by a second, until it returns nil
// or within passes; then it fails the test with cond's last error.
func Eventually(t testing.TB, within time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = cond(ctx)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, within, err)
}

// StartFailsWithinDeadline checks what every provider promises of a server
// that is down (a closed port) or accepts and stays silent: Start with a
// 300ms ctx fails well within 2s, with an error of type E that matches
// unavailable, names the address and does not contain secret. open returns
// the provider for the address; it is stopped at the end.
func StartFailsWithinDeadline[E error](t *testing.T, unavailable error, secret string, open func(t *testing.T, addr string) Lifecycle) {
	t.Helper()
	for _, tt := range []struct {
		name string
		addr func(testing.TB) string
	}{{"closed port", ClosedPort}, {"silent server", SilentServer}} {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			p := open(t, addr)
			defer func() { _ = p.Stop(context.Background()) }()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			begin := time.Now()
			err := p.Start(ctx)
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("Start took %s, past its 300ms deadline", took)
			}
			if err == nil {
				t.Fatal("Start succeeded against a dead server")
			}
			var typed E
			if !errors.As(err, &typed) || !errors.Is(err, unavailable) {
				t.Fatalf("Start = %T %v, want a %T matching %v", err, err, typed, unavailable)
			}
			if msg := err.Error(); !strings.Contains(msg, addr) || strings.Contains(msg, secret) {
				t.Errorf("error %q should name %s and not the secret", msg, addr)
			}
		})
	}
}

// ModuleDownAtStart checks that an app built from opts, whose provider
// dials addr (a silent server), fails to start within its 500ms start
// timeout (3s at most), with an error that matches unavailable, names addr
// and does not contain secret.
func ModuleDownAtStart(t *testing.T, unavailable error, secret, addr string, opts ...fx.Option) {
	t.Helper()
	app := fx.New(append([]fx.Option{fx.NopLogger, fx.StartTimeout(500 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	begin := time.Now()
	err := app.Start(ctx)
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("the app started against a silent server")
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("start took %s with a 500ms start timeout", took)
	}
	if !errors.Is(err, unavailable) || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), secret) {
		t.Errorf("start error %q should match %v, name %s and hide the secret", err, unavailable, addr)
	}
	_ = app.Stop(context.Background())
}

// RequireStopped stops p twice (Stop is idempotent) and checks that both
// calls succeed and that Ready then answers stopped.
func RequireStopped(t testing.TB, p Readiness, stopped error) {
	t.Helper()
	ctx := context.Background()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := p.Ready(ctx); !errors.Is(err, stopped) {
		t.Fatalf("Ready after Stop = %v, want %v", err, stopped)
	}
}

// RequireLifecycle checks the states every provider goes through: Ready
// answers notStarted before Start, Start succeeds within [StartTimeout],
// Ready then passes, Stop is idempotent, and afterwards both Ready and
// Start answer stopped.
func RequireLifecycle(t testing.TB, p Readiness, notStarted, stopped error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := p.Ready(ctx); !errors.Is(err, notStarted) {
		t.Fatalf("Ready before Start = %v, want %v", err, notStarted)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.Ready(ctx); err != nil {
		t.Fatalf("Ready after Start: %v", err)
	}
	RequireStopped(t, p, stopped)
	if err := p.Start(ctx); !errors.Is(err, stopped) {
		t.Fatalf("Start after Stop = %v, want %v", err, stopped)
	}
}

// BadName is an instance name that normalises fine for variables (EU_WEST)
// but holds a character that health check names refuse.
const BadName = "eu west"

// RefusesBadName checks that [BadName] fails at provider config time with
// the provider's own error (it starts with pkg + ": instance name" and
// matches grelconfig.ErrInvalidName): newFn builds the provider without
// Fx, named is the package's Named (or FromX) for that name; fx.New of it
// beside grelhealth.Module fails with the same error, not the health
// module's.
func RefusesBadName(t *testing.T, pkg string, newFn func(name string) error, named func(name string) fx.Option) {
	t.Helper()
	want := pkg + ": instance name " + strconv.Quote(BadName) + " is invalid"
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, grelconfig.ErrInvalidName) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s = %v, want an error containing %q that matches grelconfig.ErrInvalidName", what, err, want)
		}
		if errors.Is(err, grelhealth.ErrInvalidCheck) {
			t.Errorf("%s failed in the health module: %v", what, err)
		}
	}
	check("New", newFn(BadName))
	app := fx.New(fx.NopLogger, grelhealth.Module, named(BadName))
	check("fx.New", app.Err())
}

// RequireChecks checks the readiness checks a Module contributed: each
// passes and is critical, and their names are want (in any order).
func RequireChecks(t testing.TB, checks []grelhealth.Check, want ...string) {
	t.Helper()
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
		if err := c.Func(context.Background()); err != nil || c.NonCritical {
			t.Errorf("check %s: %v (non-critical %v)", c.Name, err, c.NonCritical)
		}
	}
	slices.Sort(names)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(names, want) {
		t.Errorf("checks = %q, want %q", names, want)
	}
}

// Server is a private server a test stops and starts again
// (testenv.RedisProcess, testenv.PostgresProcess).
type Server interface {
	Stop()
	Start()
}

// RequireRecovers stops srv under a running provider and checks that p's
// readiness check then fails with unavailable within down, and, once srv is
// started again, passes again within back: the client reconnects by itself.
func RequireRecovers(t testing.TB, p interface{ Ready(context.Context) error }, srv Server, unavailable error, down, back time.Duration) {
	t.Helper()
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), down)
	err := p.Ready(ctx)
	cancel()
	if !errors.Is(err, unavailable) {
		t.Fatalf("Ready with the server down = %v, want %v", err, unavailable)
	}
	srv.Start()
	Eventually(t, back, "readiness after restart", p.Ready)
}
