package providertest

import (
	"context"
	"errors"
	"testing"
	"time"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// downBackend is a store that always fails.
type downBackend struct{}

func (downBackend) Decide(context.Context, grelratelimit.Request) (grelratelimit.Decision, error) {
	return grelratelimit.Decision{}, errors.New("test: store down")
}
func (downBackend) Reset(context.Context, string, string) error {
	return errors.New("test: store down")
}
func (downBackend) Kind() string { return "down" }

func TestDownAnswers(t *testing.T) {
	for _, want := range DownAnswers {
		t.Run(string(want.Degradation), func(t *testing.T) {
			l := DownLimiter(t, "down", downBackend{}, want.Degradation, 100*time.Millisecond)
			CheckDownCalls(t, l, want, 100*time.Millisecond, 100*time.Millisecond)
		})
	}
}

// countBackend counts the keys it holds; keys on the short policy expire.
type countBackend struct{ short, long int }

func (c *countBackend) Decide(_ context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	if req.Policy.Algorithm == grelratelimit.TokenBucket && req.Policy.Interval <= 10*time.Millisecond {
		c.short++
	} else if req.Policy.Window >= time.Hour {
		c.long++
	}
	return grelratelimit.Decision{Allowed: true}, nil
}
func (*countBackend) Reset(context.Context, string, string) error { return nil }
func (*countBackend) Kind() string                                { return "count" }

func TestDecideIdleAndLive(t *testing.T) {
	b := &countBackend{}
	begin := time.Now()
	DecideIdleAndLive(t, b)
	if b.short != 10 || b.long != 10 || time.Since(begin) < 50*time.Millisecond {
		t.Fatalf("%d short and %d long keys after %v, want 10 each after the short ones went idle", b.short, b.long, time.Since(begin))
	}
}
