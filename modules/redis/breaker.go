package grelredis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/internal/provider"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
)

// DefaultBreakerPrefix starts the keys of every breaker:
// grel:breaker:{breaker key} and grel:breaker:{breaker key}:w.
const DefaultBreakerPrefix = "grel:breaker:"

// BreakerBackend is the grelbreaker.Backend on Redis, so that the replicas
// of a service share their breakers. Each breaker key is one hash,
// {prefix}{<key>}, holding the state, the generation, the open deadline,
// the half-open trial slots and the counts; a window algorithm keeps its
// window in a second key, {prefix}{<key>}:w (a string of one byte per call
// for CountWindow, a hash of slices for TimeWindow). The braces put both
// keys in one Redis Cluster slot.
//
// Every operation (Load, Allow, Record, Set) is one EVALSHA of one script
// that reads the server's clock (TIME), applies the state machine of
// grelbreaker's memory backend and answers; after the server lost its
// script cache, go-redis answers NOSCRIPT with one EVAL that reloads it. No
// lock is taken across calls: the user's function runs between an Allow and
// a Record. Keys expire after an hour without writes (longer when the open
// duration or the window is longer); a forced-open key never expires. It
// needs Redis 5 or later.
type BreakerBackend struct {
	client redis.UniversalClient
	prefix string
}

var _ grelbreaker.Backend = (*BreakerBackend)(nil)

// BreakerOption configures a [BreakerBackend].
type BreakerOption func(*BreakerBackend)

// WithBreakerPrefix sets the key prefix (default [DefaultBreakerPrefix]).
func WithBreakerPrefix(prefix string) BreakerOption {
	return func(b *BreakerBackend) { b.prefix = prefix }
}

// NewBreakerBackend returns the breaker backend on client, which it never
// closes. Each operation is bounded by its context: the breaker gives it
// StoreTimeout, and with go-redis's ContextTimeoutEnabled (the provider's
// default) a hung server ends the operation on time.
func NewBreakerBackend(client redis.UniversalClient, opts ...BreakerOption) *BreakerBackend {
	b := &BreakerBackend{client: client, prefix: DefaultBreakerPrefix}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Kind returns "redis".
func (*BreakerBackend) Kind() string { return "redis" }

// String names the backend in the breaker's logs.
func (*BreakerBackend) String() string { return "redis" }

func (b *BreakerBackend) keys(key string) []string {
	k := b.prefix + "{" + key + "}"
	return []string{k, k + ":w"}
}

// breakerScript is the state machine. KEYS: the state hash, the window key.
// ARGV: op (load, allow, record, set), then the config: algorithm (c, n or
// t), FailureThreshold, FailureRate, MinCalls, WindowSize, Window (us),
// Buckets, slow calls on (1/0), SlowCallRate, OpenDuration (us),
// OpenDurationFactor, MaxOpenDuration (us), HalfOpenMaxCalls,
// SuccessThreshold, TTL (ms), window shape; then the op's arguments (record:
// generation, outcome s/f/i, slow 1/0; set: state). It returns {admitted,
// state, generation, open remaining (us), changed, successes, failures, slow,
// consecutive failures, half-open successes, window calls, window failures,
// window slow, last from, last to, then the 8 counts of the last
// transition}. Numbers are stored with %d: Lua's default formatting keeps 14
// digits, too few for microseconds since 1970.
var breakerScript = redis.NewScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local key, wkey = KEYS[1], KEYS[2]
local op, algo = ARGV[1], ARGV[2]
local thr, rate, minc = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wsize, winus, nb = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local slowon, srate = ARGV[9] == '1', tonumber(ARGV[10])
local openus, factor, maxopenus = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local homax, sthr, ttl, shape = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]), ARGV[17]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local v = redis.call('HMGET', key, 's', 'g', 'ou', 'hs', 'hi', 'hk', 'cf', 'ns', 'nf', 'nsl', 'tr', 'lf', 'lt', 'lc', 'sh', 'wq', 'wf', 'wsl')
local function n(x) return tonumber(x) or 0 end
local s, g, ou, hs, hi, hk, cf = n(v[1]), n(v[2]), n(v[3]), n(v[4]), n(v[5]), n(v[6]), n(v[7])
local ns, nf, nsl, tr, lf, lt = n(v[8]), n(v[9]), n(v[10]), n(v[11]), n(v[12]), n(v[13])
local lc, sh = v[14] or '0,0,0,0,0,0,0,0', v[15]
local wq, wf, wsl = n(v[16]), n(v[17]), n(v[18])
local dirty, changed, admitted = false, 0, 0

local function fmt(x) return string.format('%d', x) end
local function bucketus() return math.floor(winus / nb) end

local function wreset()
  redis.call('DEL', wkey)
  wq, wf, wsl = 0, 0, 0
end

-- the window's calls, failures and slow calls
local function wcounts()
  if sh ~= shape then return 0, 0, 0 end
  if algo == 'n' then
    local c = wq
    if c > wsize then c = wsize end
    return c, wf, wsl
  elseif algo == 't' then
    local first = math.floor(now / bucketus()) - nb + 1
    local all = redis.call('HGETALL', wkey)
    local c, f, sl = 0, 0, 0
    for i = 2, #all, 2 do
      local sl_, c_, f_, s_ = string.match(all[i], '^(-?%d+),(%d+),(%d+),(%d+)$')
      if sl_ and tonumber(sl_) >= first then
        c, f, sl = c + tonumber(c_), f + tonumber(f_), sl + tonumber(s_)
      end
    end
    return c, f, sl
  end
  return 0, 0, 0
end

local function trips(c, f, sl)
  if c < minc or c == 0 then return false end
  if f * 100 >= rate * c then return true end
  return slowon and sl * 100 >= srate * c
end

local function openfor(k)
  if factor <= 1 or k <= 1 then return openus end
  local d = openus * factor ^ (k - 1)
  if d >= maxopenus then return maxopenus end
  return math.floor(d)
end

local function transition(to, extra)
  local c, f, sl = wcounts()
  lc = table.concat({fmt(ns), fmt(nf), fmt(nsl), fmt(cf), fmt(hk + extra), fmt(c), fmt(f), fmt(sl)}, ',')
  lf, lt = s, to
  ns, nf, nsl, cf, hi, hk = 0, 0, 0, 0, 0, 0
  wreset()
  sh = shape
  if to == 1 then
    tr = tr + 1
    ou = now + openfor(tr)
  elseif to == 2 then
    hs = now
  elseif to == 0 then
    tr = 0
  end
  s, g, changed, dirty = to, g + 1, 1, true
end

if op ~= 'load' and sh ~= shape then
  -- A window of another shape starts empty; the state stays.
  wreset()
  sh, dirty = shape, true
end

if op == 'allow' then
  if s == 0 then
    admitted = 1
  elseif s == 1 and now >= ou then
    transition(2, 0)
  end
  if s == 2 then
    if hi >= homax and now - hs >= openus then
      -- trial slots whose outcome never came back are given back
      g, hi, hk, hs, dirty = g + 1, 0, 0, now, true
    end
    if hi < homax then
      hi, admitted, dirty = hi + 1, 1, true
    end
  end
elseif op == 'record' and tonumber(ARGV[18]) == g then
  local o, slow = ARGV[19], ARGV[20] == '1' and slowon
  local bad = o == 'f'
  if s == 0 and o ~= 'i' then
    if bad then nf, cf = nf + 1, cf + 1 else ns, cf = ns + 1, 0 end
    if slow then nsl = nsl + 1 end
    dirty = true
    if algo == 'c' then
      if bad and cf >= thr then transition(1, 0) end
    elseif algo == 'n' then
      local val = 1
      if bad then val = 2 end
      if slow then val = val + 4 end
      local i = wq % wsize
      local oldc = redis.call('GETRANGE', wkey, i, i)
      local old = 0
      if oldc ~= '' then old = string.byte(oldc) end
      redis.call('SETRANGE', wkey, i, string.char(val))
      wq = wq + 1
      if val % 4 >= 2 then wf = wf + 1 end
      if old % 4 >= 2 then wf = wf - 1 end
      if val >= 4 then wsl = wsl + 1 end
      if old >= 4 then wsl = wsl - 1 end
      local c = wq
      if c > wsize then c = wsize end
      if (bad or slow) and trips(c, wf, wsl) then transition(1, 0) end
    elseif algo == 't' then
      local e = math.floor(now / bucketus())
      local idx = tostring(e % nb)
      local c, f, sl = 0, 0, 0
      local raw = redis.call('HGET', wkey, idx)
      if raw then
        local sl_, c_, f_, s_ = string.match(raw, '^(-?%d+),(%d+),(%d+),(%d+)$')
        if sl_ and tonumber(sl_) == e then c, f, sl = tonumber(c_), tonumber(f_), tonumber(s_) end
      end
      c = c + 1
      if bad then f = f + 1 end
      if slow then sl = sl + 1 end
      redis.call('HSET', wkey, idx, fmt(e) .. ',' .. fmt(c) .. ',' .. fmt(f) .. ',' .. fmt(sl))
      if bad or slow then
        local wc, wfc, wslc = wcounts()
        if trips(wc, wfc, wslc) then transition(1, 0) end
      end
    end
  elseif s == 2 then
    dirty = true
    if o == 'i' then
      if hi > 0 then hi = hi - 1 end
    else
      if bad then nf = nf + 1 else ns = ns + 1 end
      if slow then nsl = nsl + 1 end
      if bad or slow then
        transition(1, 0)
      elseif hk + 1 >= sthr then
        transition(0, 1)
      else
        hk = hk + 1
        if hi > 0 then hi = hi - 1 end
      end
    end
  end
elseif op == 'set' then
  transition(tonumber(ARGV[18]), 0)
end

if dirty then
  redis.call('HSET', key, 's', s, 'g', fmt(g), 'ou', fmt(ou), 'hs', fmt(hs), 'hi', hi, 'hk', hk, 'cf', fmt(cf),
    'ns', fmt(ns), 'nf', fmt(nf), 'nsl', fmt(nsl), 'tr', tr, 'lf', lf, 'lt', lt, 'lc', lc, 'sh', sh,
    'wq', fmt(wq), 'wf', fmt(wf), 'wsl', fmt(wsl))
  if s == 3 then
    redis.call('PERSIST', key)
    redis.call('PERSIST', wkey)
  else
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', wkey, ttl)
  end
end

local rem = 0
if s == 1 and ou > now then rem = ou - now end
local wc, wfc, wslc = wcounts()
local out = {admitted, s, g, rem, changed, ns, nf, nsl, cf, hk, wc, wfc, wslc, lf, lt}
for x in string.gmatch(lc, '(-?%d+)') do out[#out + 1] = tonumber(x) end
return out
`)

const breakerReplyLen = 23

var errBreakerReply = errors.New("grelredis: breaker script: unexpected reply")

func us(d time.Duration) int64 { return d.Microseconds() }

// breakerTTL keeps a key well past anything its state still waits for.
func breakerTTL(cfg *grelbreaker.Config) int64 {
	ttl := time.Hour
	for _, d := range []time.Duration{cfg.OpenDuration, cfg.MaxOpenDuration, cfg.Window} {
		if 2*d > ttl {
			ttl = 2 * d
		}
	}
	return ttl.Milliseconds()
}

func (b *BreakerBackend) run(ctx context.Context, op, key string, cfg *grelbreaker.Config, extra ...any) ([]int64, error) {
	algo := "c"
	switch cfg.Algorithm {
	case grelbreaker.CountWindow:
		algo = "n"
	case grelbreaker.TimeWindow:
		algo = "t"
	}
	slow := "0"
	if cfg.SlowCallDuration > 0 && algo != "c" {
		slow = "1"
	}
	shape := algo
	switch algo {
	case "n":
		shape += ":" + strconv.Itoa(cfg.WindowSize)
	case "t":
		shape += ":" + strconv.FormatInt(us(cfg.Window), 10) + ":" + strconv.Itoa(cfg.Buckets)
	}
	args := []any{op, algo, cfg.FailureThreshold, ratio(cfg.FailureRate), cfg.MinCalls, cfg.WindowSize, us(cfg.Window),
		max(cfg.Buckets, 1), slow, ratio(cfg.SlowCallRate), us(cfg.OpenDuration), ratio(cfg.OpenDurationFactor),
		us(cfg.MaxOpenDuration), cfg.HalfOpenMaxCalls, cfg.SuccessThreshold, breakerTTL(cfg), shape}
	args = append(args, extra...)
	res, err := breakerScript.Run(ctx, b.client, b.keys(key), args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("grelredis: breaker %s: %w", op, err)
	}
	if len(res) != breakerReplyLen {
		return nil, errBreakerReply
	}
	return res, nil
}

// ratio formats a float argument exactly enough for the script.
func ratio(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func snapshot(r []int64) grelbreaker.Snapshot {
	counts := func(x []int64) grelbreaker.Counts {
		return grelbreaker.Counts{Successes: x[0], Failures: x[1], Slow: x[2], ConsecutiveFailures: x[3], HalfOpenSuccesses: x[4],
			WindowCalls: x[5], WindowFailures: x[6], WindowSlow: x[7]}
	}
	return grelbreaker.Snapshot{
		State:         grelbreaker.State(r[1]),
		Generation:    uint64(r[2]),
		OpenRemaining: time.Duration(r[3]) * time.Microsecond,
		Changed:       r[4] == 1,
		Counts:        counts(r[5:13]),
		Last:          grelbreaker.Transition{From: grelbreaker.State(r[13]), To: grelbreaker.State(r[14]), Counts: counts(r[15:23])},
	}
}

// Load implements grelbreaker.Backend: one EVALSHA that writes nothing.
func (b *BreakerBackend) Load(ctx context.Context, key string, cfg *grelbreaker.Config) (grelbreaker.Snapshot, error) {
	r, err := b.run(ctx, "load", key, cfg)
	if err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return snapshot(r), nil
}

// Allow implements grelbreaker.Backend: one EVALSHA.
func (b *BreakerBackend) Allow(ctx context.Context, key string, cfg *grelbreaker.Config) (grelbreaker.Admission, error) {
	r, err := b.run(ctx, "allow", key, cfg)
	if err != nil {
		return grelbreaker.Admission{}, err
	}
	return grelbreaker.Admission{Snapshot: snapshot(r), Admitted: r[0] == 1}, nil
}

// Record implements grelbreaker.Backend: one EVALSHA.
func (b *BreakerBackend) Record(ctx context.Context, key string, cfg *grelbreaker.Config, rec grelbreaker.Record) (grelbreaker.Snapshot, error) {
	o := "s"
	switch rec.Outcome {
	case grelbreaker.OutcomeFailure:
		o = "f"
	case grelbreaker.OutcomeIgnored:
		o = "i"
	}
	slow := "0"
	if rec.Slow {
		slow = "1"
	}
	r, err := b.run(ctx, "record", key, cfg, strconv.FormatUint(rec.Generation, 10), o, slow)
	if err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return snapshot(r), nil
}

// Set implements grelbreaker.Backend: one EVALSHA.
func (b *BreakerBackend) Set(ctx context.Context, key string, cfg *grelbreaker.Config, state grelbreaker.State) (grelbreaker.Snapshot, error) {
	switch state {
	case grelbreaker.StateOpen, grelbreaker.StateClosed, grelbreaker.StateForcedOpen:
	default:
		return grelbreaker.Snapshot{}, grelbreaker.ErrInvalidState
	}
	r, err := b.run(ctx, "set", key, cfg, int(state))
	if err != nil {
		return grelbreaker.Snapshot{}, err
	}
	return snapshot(r), nil
}

// Preload loads the script into the server's cache (SCRIPT LOAD), so that
// the first operation is one EVALSHA too. Operations do not need it.
func (b *BreakerBackend) Preload(ctx context.Context) error {
	return breakerScript.Load(ctx, b.client).Err()
}

// BreakerBackends offers a grelbreaker.Backend on every Redis client of the
// app (each [Instance] in [InstancesGroup]) to grelbreaker.Module, under the
// client's instance name. The script is preloaded on start, best effort.
var BreakerBackends = provider.Backends(InstancesGroup, grelbreaker.BackendGroup, "grelredis",
	func(lc fx.Lifecycle, in Instance) (string, grelbreaker.Backend) {
		b := NewBreakerBackend(in.Client)
		lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
			_ = b.Preload(ctx) // a miss costs one EVAL at the first operation
			return nil
		}})
		return in.Name, b
	})
