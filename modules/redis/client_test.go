package grelredis_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// testClient opens a client of its own on url, closed at cleanup, as an app
// would configure one: commands honour their ctx deadline and the client
// sends no CLIENT SETINFO. configure adjusts the options first.
func testClient(t testing.TB, url string, configure ...func(*redis.Options)) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true
	for _, c := range configure {
		c(opts)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// noRetries makes a down store fail at once, so that the limiter or the
// breaker decides, not go-redis's retries.
func noRetries(o *redis.Options) { o.MaxRetries = -1 }

// commandCounter is a go-redis hook that counts the commands sent (each
// command of a pipeline too) and keeps the name of the last one.
type commandCounter struct {
	n    atomic.Int64
	last atomic.Value
}

func (h *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		h.last.Store(cmd.Name())
		return next(ctx, cmd)
	}
}
func (h *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
