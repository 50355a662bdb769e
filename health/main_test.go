package grelhealth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newChecker returns a checker on the documented defaults plus opts, read
// from no environment, stopped at cleanup.
func newChecker(t *testing.T, opts ...grelhealth.Option) *grelhealth.Checker {
	t.Helper()
	c, err := grelhealth.NewFromConfig(grelhealth.DefaultConfig(), opts...)
	if err != nil {
		t.Fatalf("NewFromConfig: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func mustRegister(t *testing.T, c *grelhealth.Checker, checks ...grelhealth.Check) {
	t.Helper()
	for _, ch := range checks {
		if err := c.Register(ch); err != nil {
			t.Fatalf("Register(%s): %v", ch.Name, err)
		}
	}
}

// serve sends one request to h and returns the recorded answer.
func serve(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// mux mounts the endpoints of h on a fresh ServeMux.
func mux(h *grelhealth.Handler) *http.ServeMux {
	m := http.NewServeMux()
	h.Mount(m)
	return m
}

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

func pass(context.Context) error { return nil }
