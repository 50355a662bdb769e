package grelredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// DefaultLockPrefix starts the key of every lock: grel:lock:{name}.
const DefaultLockPrefix = "grel:lock:"

// LockBackend is the grellock.Backend on Redis. Each name is one hash,
// {prefix}{name}, that never expires: the lease is its "exp" field,
// compared with the server's clock (TIME) inside each script, so the fence
// and transition counters survive releases and expiries. Every operation is
// one EVALSHA (an EVAL once after the server lost its script cache).
type LockBackend struct {
	client redis.UniversalClient
	prefix string
}

var _ grellock.Backend = (*LockBackend)(nil)

// LockOption configures a [LockBackend].
type LockOption func(*LockBackend)

// WithLockPrefix sets the key prefix (default [DefaultLockPrefix]).
func WithLockPrefix(prefix string) LockOption {
	return func(b *LockBackend) { b.prefix = prefix }
}

// NewLockBackend returns the lock backend on client. The client is not
// closed by the backend. With go-redis's ContextTimeoutEnabled (the
// provider's default) each call ends at its context's deadline; without it a
// hung server holds a call until the client's ReadTimeout, although the
// patterns still signal a lost hold on time.
func NewLockBackend(client redis.UniversalClient, opts ...LockOption) *LockBackend {
	b := &LockBackend{client: client, prefix: DefaultLockPrefix}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Kind returns "redis".
func (*LockBackend) Kind() string { return "redis" }

func (b *LockBackend) key(name string) string { return b.prefix + name }

// The scripts share one preamble: the server's time in microseconds and the
// record, read once. Fields: tok (token), holder, last (the last holder,
// kept after expiry and cleared by a release, for transitions), fence,
// trans, lease (ms), acq, ren, exp (server microseconds), meta (JSON).
// Every reply is {status, now, tok, holder, fence, trans, lease, acq, ren,
// exp, meta}, or {status, now} when there is nothing to report.
const luaPreamble = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local r = redis.call('HMGET', KEYS[1], 'tok', 'holder', 'last', 'fence', 'trans', 'lease', 'acq', 'ren', 'exp', 'meta')
local valid = r[1] and r[1] ~= '' and tonumber(r[9]) > now
`

// acquireScript: ARGV = token, holder, lease ms, metadata JSON, "1" when
// metadata is given. Status 1: acquired or extended; 0: held by another.
var acquireScript = redis.NewScript(luaPreamble + `
local lease = tonumber(ARGV[3])
local exp = now + lease * 1000
if valid then
  if r[1] ~= ARGV[1] then return {0, now, r[1], r[2], r[4], r[5], r[6], r[7], r[8], r[9], r[10]} end
  local meta = r[10]
  if ARGV[5] == '1' then
    meta = ARGV[4]
    redis.call('HSET', KEYS[1], 'ren', now, 'exp', exp, 'lease', lease, 'meta', meta)
  else
    redis.call('HSET', KEYS[1], 'ren', now, 'exp', exp, 'lease', lease)
  end
  return {1, now, r[1], r[2], r[4], r[5], lease, r[7], now, exp, meta}
end
local fence = (tonumber(r[4]) or 0) + 1
local trans = tonumber(r[5]) or 0
if fence > 1 and r[3] ~= ARGV[2] then trans = trans + 1 end
redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'holder', ARGV[2], 'last', ARGV[2], 'fence', fence, 'trans', trans,
  'lease', lease, 'acq', now, 'ren', now, 'exp', exp, 'meta', ARGV[4])
return {1, now, ARGV[1], ARGV[2], fence, trans, lease, now, now, exp, ARGV[4]}
`)

// extendScript: ARGV = token, lease ms. Status 0: not held by token.
var extendScript = redis.NewScript(luaPreamble + `
if not valid or r[1] ~= ARGV[1] then return {0, now} end
local lease = tonumber(ARGV[2])
local exp = now + lease * 1000
redis.call('HSET', KEYS[1], 'ren', now, 'exp', exp, 'lease', lease)
return {1, now, r[1], r[2], r[4], r[5], lease, r[7], now, exp, r[10]}
`)

// releaseScript: ARGV = token. Clears the holder, keeps fence and trans.
var releaseScript = redis.NewScript(luaPreamble + `
if not valid or r[1] ~= ARGV[1] then return {0, now} end
redis.call('HSET', KEYS[1], 'tok', '', 'holder', '', 'last', '', 'exp', now, 'meta', '')
return {1, now}
`)

// getScript reads the record at the server's time.
var getScript = redis.NewScript(luaPreamble + `
return {valid and 1 or 0, now, r[1], r[2], r[4], r[5], r[6], r[7], r[8], r[9], r[10]}
`)

func leaseMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if time.Duration(ms)*time.Millisecond < d {
		ms++ // never shorter than asked
	}
	return ms
}

// Acquire implements grellock.Backend.
func (b *LockBackend) Acquire(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	meta, has, err := encodeMeta(req.Metadata)
	if err != nil {
		return grellock.Record{}, err
	}
	res, err := acquireScript.Run(ctx, b.client, []string{b.key(req.Name)}, req.Token, req.Holder, leaseMillis(req.Lease), meta, has).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock acquire: %w", err)
	}
	rec, status, err := parseReply(req.Name, res)
	if err != nil {
		return grellock.Record{}, err
	}
	if status != 1 {
		return rec, grellock.ErrNotAcquired
	}
	return rec, nil
}

// Extend implements grellock.Backend.
func (b *LockBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	res, err := extendScript.Run(ctx, b.client, []string{b.key(req.Name)}, req.Token, leaseMillis(req.Lease)).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock extend: %w", err)
	}
	rec, status, err := parseReply(req.Name, res)
	if err != nil {
		return grellock.Record{}, err
	}
	if status != 1 {
		return grellock.Record{}, grellock.ErrNotHeld
	}
	return rec, nil
}

// Release implements grellock.Backend.
func (b *LockBackend) Release(ctx context.Context, name, token string) error {
	res, err := releaseScript.Run(ctx, b.client, []string{b.key(name)}, token).Slice()
	if err != nil {
		return fmt.Errorf("grelredis: lock release: %w", err)
	}
	if len(res) == 0 || toInt(res[0]) != 1 {
		return grellock.ErrNotHeld
	}
	return nil
}

// Get implements grellock.Backend.
func (b *LockBackend) Get(ctx context.Context, name string) (grellock.Record, error) {
	res, err := getScript.Run(ctx, b.client, []string{b.key(name)}).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock get: %w", err)
	}
	rec, _, err := parseReply(name, res)
	return rec, err
}

func encodeMeta(m map[string]string) (string, string, error) {
	if m == nil {
		return "", "0", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", "", fmt.Errorf("grelredis: lock metadata: %w", err)
	}
	return string(b), "1", nil
}

var errReply = errors.New("grelredis: lock script: unexpected reply")

// parseReply reads {status, now, tok, holder, fence, trans, lease, acq, ren,
// exp, meta}. A record whose lease has expired at the server's time is
// reported free, with its counters.
func parseReply(name string, res []any) (grellock.Record, int64, error) {
	if len(res) < 2 {
		return grellock.Record{}, 0, errReply
	}
	status := toInt(res[0])
	rec := grellock.Record{Name: name}
	if len(res) < 11 {
		return rec, status, nil
	}
	now := toInt(res[1])
	str := func(i int) string { s, _ := res[i].(string); return s }
	rec.Fence = uint64(toInt(res[4]))
	rec.Transitions = toInt(res[5])
	exp := toInt(res[9])
	if tok := str(2); tok == "" || exp <= now {
		return rec, status, nil
	}
	rec.Token, rec.Holder = str(2), str(3)
	rec.Lease = time.Duration(toInt(res[6])) * time.Millisecond
	rec.AcquiredAt = time.UnixMicro(toInt(res[7]))
	rec.RenewedAt = time.UnixMicro(toInt(res[8]))
	rec.ExpiresAt = time.UnixMicro(exp)
	if m := str(10); m != "" {
		if err := json.Unmarshal([]byte(m), &rec.Metadata); err != nil {
			return grellock.Record{}, 0, fmt.Errorf("grelredis: lock metadata: %w", err)
		}
	}
	return rec, status, nil
}

// toInt reads an integer reply or a numeric string field.
func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(x, 64)
			if ferr != nil {
				return 0
			}
			return int64(f)
		}
		return n
	}
	return 0
}

// LockBackends offers a grellock.Backend on every Redis client of the app
// (each [Instance] in [InstancesGroup]) to grellock.Module, under the
// client's instance name.
var LockBackends = provider.Backends(InstancesGroup, grellock.BackendGroup, "grelredis",
	func(_ fx.Lifecycle, in Instance) (string, grellock.Backend) {
		return in.Name, NewLockBackend(in.Client)
	})
