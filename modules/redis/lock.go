package grelredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

// The lock record is one hash with the fields tok (token), holder, last
// (the last holder, kept after expiry and cleared by a release, for
// transitions), fence, trans, lease (ms), acq, ren, exp (server
// microseconds) and meta (JSON). Each script reads the server's time
// (TIME) and only the fields its decision needs; a full record, {status,
// now, tok, holder, fence, trans, lease, acq, ren, exp, meta}, is sent back
// only when the caller cannot know it (another holder's record, Get).
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// acquireScript: ARGV = token, holder, lease ms, metadata JSON, "1" when
// metadata is given. Replies: {1, now, fence, trans} for a new acquisition
// (the rest of the record is the request's); {2, full record} when the
// token already held it (an extension); {0, full record} when another
// token holds it.
var acquireScript = newLuaScript(luaNow + `
local r = redis.call('HMGET', KEYS[1], 'tok', 'exp', 'fence', 'trans', 'last')
local lease = tonumber(ARGV[3])
local exp = now + lease * 1000
if r[1] and r[1] ~= '' and (tonumber(r[2]) or 0) > now then
  local o = redis.call('HMGET', KEYS[1], 'holder', 'lease', 'acq', 'ren', 'meta')
  if r[1] ~= ARGV[1] then return {0, now, r[1], o[1], r[3], r[4], o[2], o[3], o[4], r[2], o[5]} end
  local meta = o[5]
  if ARGV[5] == '1' then
    meta = ARGV[4]
    redis.call('HSET', KEYS[1], 'ren', now, 'exp', exp, 'lease', lease, 'meta', meta)
  else
    redis.call('HSET', KEYS[1], 'ren', now, 'exp', exp, 'lease', lease)
  end
  return {2, now, r[1], o[1], r[3], r[4], lease, o[3], now, exp, meta}
end
local fence = (tonumber(r[3]) or 0) + 1
local trans = tonumber(r[4]) or 0
if fence > 1 and r[5] ~= ARGV[2] then trans = trans + 1 end
redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'holder', ARGV[2], 'last', ARGV[2], 'fence', fence, 'trans', trans,
  'lease', lease, 'acq', now, 'ren', now, 'exp', exp, 'meta', ARGV[4])
return {1, now, fence, trans}
`)

// extendScript: ARGV = token, lease ms. Replies {1, now, fence, trans,
// holder, acq, meta}, or {0} when the token does not hold a valid lease.
var extendScript = newLuaScript(luaNow + `
local r = redis.call('HMGET', KEYS[1], 'tok', 'exp', 'fence', 'trans', 'holder', 'acq', 'meta')
if ARGV[1] == '' or r[1] ~= ARGV[1] or (tonumber(r[2]) or 0) <= now then return {0} end
local lease = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'ren', now, 'exp', now + lease * 1000, 'lease', lease)
return {1, now, r[3], r[4], r[5], r[6], r[7]}
`)

// releaseScript: ARGV = token. Clears the token, the holder and the last
// holder; keeps fence and trans. The other fields mean nothing without a
// token, and the next acquisition writes them all. Replies 1, or 0 when the
// token does not hold a valid lease.
var releaseScript = newLuaScript(luaNow + `
local r = redis.call('HMGET', KEYS[1], 'tok', 'exp')
if ARGV[1] == '' or r[1] ~= ARGV[1] or (tonumber(r[2]) or 0) <= now then return 0 end
redis.call('HSET', KEYS[1], 'tok', '', 'holder', '', 'last', '')
return 1
`)

// getScript reads the whole record at the server's time.
var getScript = newLuaScript(luaNow + `
local r = redis.call('HMGET', KEYS[1], 'tok', 'holder', 'last', 'fence', 'trans', 'lease', 'acq', 'ren', 'exp', 'meta')
local valid = r[1] and r[1] ~= '' and (tonumber(r[9]) or 0) > now
return {valid and 1 or 0, now, r[1], r[2], r[4], r[5], r[6], r[7], r[8], r[9], r[10]}
`)

// luaScript is a script run by EVALSHA on one key, with its digest and its
// source kept as command arguments, so that a call boxes neither.
type luaScript struct {
	src, sha any
}

func newLuaScript(src string) *luaScript {
	return &luaScript{src: src, sha: redis.NewScript(src).Hash()}
}

// args returns the arguments of an EVALSHA of s on key followed by n script
// arguments, which the caller appends.
func (s *luaScript) args(key string, n int) []any {
	return append(make([]any, 0, 4+n), "evalsha", s.sha, 1, key)
}

// run sends cmd, an EVALSHA built by newCmd from args; after NOSCRIPT (the
// server lost its script cache) it sends the script once with EVAL, which
// caches it again. Either way the caller reads the returned command.
func runScript[C redis.Cmder](ctx context.Context, c redis.UniversalClient, s *luaScript,
	newCmd func(context.Context, ...any) C, args []any) C {
	cmd := newCmd(ctx, args...)
	cmd.SetFirstKeyPos(3)
	_ = c.Process(ctx, cmd)
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		args[0], args[1] = "eval", s.src
		cmd = newCmd(ctx, args...)
		cmd.SetFirstKeyPos(3)
		_ = c.Process(ctx, cmd)
	}
	return cmd
}

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
	ms := leaseMillis(req.Lease)
	args := append(acquireScript.args(b.key(req.Name), 5), req.Token, req.Holder, ms, meta, has)
	res, err := runScript(ctx, b.client, acquireScript, redis.NewCmd, args).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock acquire: %w", err)
	}
	if len(res) == 4 && toInt(res[0]) == 1 {
		// A new acquisition: the record is the request's, at the server's
		// time, with the fence and transitions the script minted.
		now := toInt(res[1])
		return grellock.Record{
			Name:        req.Name,
			Holder:      req.Holder,
			Token:       req.Token,
			Fence:       uint64(toInt(res[2])),
			Transitions: toInt(res[3]),
			Lease:       time.Duration(ms) * time.Millisecond,
			AcquiredAt:  time.UnixMicro(now),
			RenewedAt:   time.UnixMicro(now),
			ExpiresAt:   time.UnixMicro(now + ms*1000),
			Metadata:    maps.Clone(req.Metadata),
		}, nil
	}
	rec, status, err := parseReply(req.Name, res)
	if err != nil {
		return grellock.Record{}, err
	}
	if status != 2 {
		return rec, grellock.ErrNotAcquired
	}
	return rec, nil
}

// Extend implements grellock.Backend.
func (b *LockBackend) Extend(ctx context.Context, req grellock.Request) (grellock.Record, error) {
	ms := leaseMillis(req.Lease)
	args := append(extendScript.args(b.key(req.Name), 2), req.Token, ms)
	res, err := runScript(ctx, b.client, extendScript, redis.NewCmd, args).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock extend: %w", err)
	}
	if len(res) == 0 || toInt(res[0]) != 1 {
		return grellock.Record{}, grellock.ErrNotHeld
	}
	if len(res) != 7 {
		return grellock.Record{}, errReply
	}
	now := toInt(res[1])
	rec := grellock.Record{
		Name:        req.Name,
		Holder:      str(res[4]),
		Token:       req.Token,
		Fence:       uint64(toInt(res[2])),
		Transitions: toInt(res[3]),
		Lease:       time.Duration(ms) * time.Millisecond,
		AcquiredAt:  time.UnixMicro(toInt(res[5])),
		RenewedAt:   time.UnixMicro(now),
		ExpiresAt:   time.UnixMicro(now + ms*1000),
	}
	if err := decodeMeta(str(res[6]), &rec); err != nil {
		return grellock.Record{}, err
	}
	return rec, nil
}

// Release implements grellock.Backend.
func (b *LockBackend) Release(ctx context.Context, name, token string) error {
	args := append(releaseScript.args(b.key(name), 1), token)
	n, err := runScript(ctx, b.client, releaseScript, redis.NewIntCmd, args).Result()
	if err != nil {
		return fmt.Errorf("grelredis: lock release: %w", err)
	}
	if n != 1 {
		return grellock.ErrNotHeld
	}
	return nil
}

// Get implements grellock.Backend.
func (b *LockBackend) Get(ctx context.Context, name string) (grellock.Record, error) {
	res, err := runScript(ctx, b.client, getScript, redis.NewCmd, getScript.args(b.key(name), 0)).Slice()
	if err != nil {
		return grellock.Record{}, fmt.Errorf("grelredis: lock get: %w", err)
	}
	rec, _, err := parseReply(name, res)
	return rec, err
}

// The has-metadata argument, boxed once.
var (
	argNoMeta  any = "0"
	argHasMeta any = "1"
)

func encodeMeta(m map[string]string) (string, any, error) {
	if m == nil {
		return "", argNoMeta, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("grelredis: lock metadata: %w", err)
	}
	return string(b), argHasMeta, nil
}

func decodeMeta(m string, rec *grellock.Record) error {
	if m == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(m), &rec.Metadata); err != nil {
		return fmt.Errorf("grelredis: lock metadata: %w", err)
	}
	return nil
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
	rec.Fence = uint64(toInt(res[4]))
	rec.Transitions = toInt(res[5])
	exp := toInt(res[9])
	if tok := str(res[2]); tok == "" || exp <= now {
		return rec, status, nil
	}
	rec.Token, rec.Holder = str(res[2]), str(res[3])
	rec.Lease = time.Duration(toInt(res[6])) * time.Millisecond
	rec.AcquiredAt = time.UnixMicro(toInt(res[7]))
	rec.RenewedAt = time.UnixMicro(toInt(res[8]))
	rec.ExpiresAt = time.UnixMicro(exp)
	if err := decodeMeta(str(res[10]), &rec); err != nil {
		return grellock.Record{}, 0, err
	}
	return rec, status, nil
}

func str(v any) string { s, _ := v.(string); return s }

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
