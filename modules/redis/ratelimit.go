package grelredis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

// DefaultRateLimitPrefix starts the key of every rate-limited key:
// grel:ratelimit:{limiter name}:{key}.
const DefaultRateLimitPrefix = "grel:ratelimit:"

// RateLimitBackend is the grelratelimit.Backend on Redis. Each (limiter,
// key) is one hash, {prefix}{name}:{key}, with the fields t, p and c of a
// grelratelimit.State (in server microseconds), expiring when the state
// becomes the same as none. Every decision is one EVALSHA of one script
// that reads the server's clock (TIME), applies the algorithm and writes
// the new state; after the server lost its script cache (a restart, SCRIPT
// FLUSH), the NOSCRIPT answer is followed by one EVAL that reloads it.
//
// The script is the reference semantics (grelratelimit.Policy.Decide) at
// microsecond resolution; the token bucket's theoretical arrival time is
// rounded up to the microsecond. It needs Redis 5 or later with script
// effects replication (the default since 5.0, the only mode since 7.0), as
// the script writes after reading TIME. On a Redis Cluster each key is
// one slot, so any key works.
type RateLimitBackend struct {
	client redis.UniversalClient
	prefix string
	last   atomic.Pointer[rateLimitArgs]
}

var _ grelratelimit.Backend = (*RateLimitBackend)(nil)

// RateLimitOption configures a [RateLimitBackend].
type RateLimitOption func(*RateLimitBackend)

// WithRateLimitPrefix sets the key prefix (default [DefaultRateLimitPrefix]).
func WithRateLimitPrefix(prefix string) RateLimitOption {
	return func(b *RateLimitBackend) { b.prefix = prefix }
}

// NewRateLimitBackend returns the rate limit backend on client, which it
// never closes. The limiter's per-call timeout is its context deadline:
// with go-redis's ContextTimeoutEnabled (the provider's default) a call to
// a hung server ends on time; without it the client's ReadTimeout applies.
func NewRateLimitBackend(client redis.UniversalClient, opts ...RateLimitOption) *RateLimitBackend {
	b := &RateLimitBackend{client: client, prefix: DefaultRateLimitPrefix}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Kind returns "redis".
func (*RateLimitBackend) Kind() string { return "redis" }

func (b *RateLimitBackend) key(name, key string) string { return b.prefix + name + ":" + key }

// rateLimitScript applies one decision. KEYS[1] is the state hash. ARGV:
// algorithm ("tb" or "sw"), limit, span in microseconds (the token
// bucket's interval or the sliding window's length), n, peek ("1" or
// "0"). It returns {allowed, remaining, retry after, reset after}, the
// durations in microseconds. The token bucket reads and writes only t (its
// p and c are 0, and a missing field reads as 0). Numbers are written with
// %d: Lua's default formatting keeps 14 digits, too few for microseconds
// since 1970.
var rateLimitScript = newLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local peek = ARGV[5] == '1'
local tb = ARGV[1] == 'tb'
local allowed, remaining, retry, reset, new_t, expiry, prev, cur
if tb then
  local capacity = limit * span
  local base = tonumber(redis.call('HGET', KEYS[1], 't')) or 0
  if base < now then base = now end
  local nxt = math.ceil(base + n * span)
  local allow_at = nxt - capacity
  allowed = allow_at <= now
  local after = base
  if allowed and not peek then after = nxt end
  retry = 0
  if not allowed then retry = math.ceil(allow_at - now) end
  remaining = math.floor((capacity - (after - now)) / span)
  if remaining < 0 then remaining = 0 end
  reset = after - now
  new_t, expiry = after, after
else
  local st = redis.call('HMGET', KEYS[1], 't', 'p', 'c')
  local start = tonumber(st[1]) or 0
  prev = tonumber(st[2]) or 0
  cur = tonumber(st[3]) or 0
  if start == 0 then start, prev, cur = now, 0, 0 end
  local elapsed = now - start
  if elapsed < 0 then elapsed = 0 end
  if elapsed >= span then
    local k = math.floor(elapsed / span)
    if k == 1 then prev = cur else prev = 0 end
    cur = 0
    start = start + k * span
    elapsed = elapsed - k * span
  end
  if prev == 0 and cur == 0 then start, elapsed = now, 0 end
  local est = prev * (span - elapsed) / span + cur
  allowed = est + n <= limit
  if allowed and not peek then
    cur = cur + n
    est = est + n
  end
  remaining = math.floor(limit - est)
  if remaining < 0 then remaining = 0 end
  if remaining > limit then remaining = limit end
  retry = 0
  if not allowed then
    local room = limit - cur - n
    local wait
    if room >= 0 then
      wait = span - room * span / prev - elapsed
    else
      local need = span - (limit - n) * span / cur
      if need < 0 then need = 0 end
      wait = span - elapsed + need
    end
    retry = math.ceil(wait)
    if retry < 1 then retry = 1 end
  end
  if cur > 0 then
    reset, expiry = span - elapsed + span, start + 2 * span
  elseif prev > 0 then
    reset, expiry = span - elapsed, start + span
  else
    reset, expiry = 0, start
  end
  new_t = start
end
if not peek then
  local ttl = math.ceil((expiry - now) / 1000)
  if ttl > 0 then
    if tb then
      redis.call('HSET', KEYS[1], 't', string.format('%d', new_t))
    else
      redis.call('HSET', KEYS[1], 't', string.format('%d', new_t), 'p', string.format('%d', prev), 'c', string.format('%d', cur))
    end
    redis.call('PEXPIRE', KEYS[1], ttl)
  else
    redis.call('DEL', KEYS[1])
  end
end
if allowed then allowed = 1 else allowed = 0 end
return {allowed, remaining, retry, reset}
`)

var errRateLimitReply = errors.New("grelredis: rate limit script: unexpected reply")

// Decide implements grelratelimit.Backend: one EVALSHA.
func (b *RateLimitBackend) Decide(ctx context.Context, req grelratelimit.Request) (grelratelimit.Decision, error) {
	p := b.policyArgs(req.Policy)
	peek := argNoPeek
	if req.Peek {
		peek = argPeek
	}
	args := append(rateLimitScript.args(b.key(req.Name, req.Key), 5), p.algo, p.limit, p.span, req.N, peek)
	res, err := runScript(ctx, b.client, rateLimitScript, redis.NewIntSliceCmd, args).Result()
	if err != nil {
		return grelratelimit.Decision{}, fmt.Errorf("grelredis: rate limit decide: %w", err)
	}
	if len(res) != 4 {
		return grelratelimit.Decision{}, errRateLimitReply
	}
	return grelratelimit.Decision{
		Allowed:    res[0] == 1,
		Remaining:  res[1],
		RetryAfter: micros(res[2]),
		ResetAfter: micros(res[3]),
	}, nil
}

// The script's flag arguments, boxed once.
var (
	argTokenBucket   any = "tb"
	argSlidingWindow any = "sw"
	argPeek          any = "1"
	argNoPeek        any = "0"
)

// rateLimitArgs is a policy's script arguments, boxed: the limit and the
// span in microseconds.
type rateLimitArgs struct {
	policy            grelratelimit.Policy
	algo, limit, span any
}

// policyArgs returns p's script arguments, from the last policy seen when
// it is the same (a limiter passes the same policy until reconfigured).
func (b *RateLimitBackend) policyArgs(p grelratelimit.Policy) *rateLimitArgs {
	if a := b.last.Load(); a != nil && a.policy == p {
		return a
	}
	a := &rateLimitArgs{policy: p, algo: argTokenBucket, limit: p.Limit, span: float64(p.Interval) / 1e3}
	if p.Algorithm == grelratelimit.SlidingWindow {
		a.algo, a.span = argSlidingWindow, math.Round(float64(p.Window)/1e3)
	}
	b.last.Store(a)
	return a
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// Reset implements grelratelimit.Backend: one DEL.
func (b *RateLimitBackend) Reset(ctx context.Context, name, key string) error {
	if err := b.client.Del(ctx, b.key(name, key)).Err(); err != nil {
		return fmt.Errorf("grelredis: rate limit reset: %w", err)
	}
	return nil
}

// Preload loads the script into the server's cache (SCRIPT LOAD), so that
// the first decision is one EVALSHA too. Decisions do not need it.
func (b *RateLimitBackend) Preload(ctx context.Context) error {
	return b.client.ScriptLoad(ctx, rateLimitScript.src.(string)).Err()
}

// RateLimitBackends offers a grelratelimit.Backend on every Redis client of
// the app (each [Instance] in [InstancesGroup]) to grelratelimit.Module,
// under the client's instance name. The script is preloaded on start, best
// effort.
var RateLimitBackends = provider.Backends(InstancesGroup, grelratelimit.BackendGroup, "grelredis",
	func(lc fx.Lifecycle, in Instance) (string, grelratelimit.Backend) {
		b := NewRateLimitBackend(in.Client)
		lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
			_ = b.Preload(ctx) // a miss costs one EVAL at the first decision
			return nil
		}})
		return in.Name, b
	})
