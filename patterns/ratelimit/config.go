package grelratelimit

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Kind is the config kind of rate limiters: their variables are
// GREL_RATELIMIT_{NAME}_{FIELD} and GREL_RATELIMIT_{FIELD}.
const Kind = "RATELIMIT"

// Degradation is what a limiter does when its store fails or does not
// answer within Timeout. It is a policy value the environment may tune
// (GREL_RATELIMIT_{NAME}_DEGRADATION); the algorithm itself is code.
type Degradation string

// The degradation policies.
const (
	// FailOpen allows every request while the store is down: availability
	// first, no protection.
	FailOpen Degradation = "fail_open"
	// FailClosed refuses every request while the store is down: protection
	// first, no availability.
	FailClosed Degradation = "fail_closed"
	// FallbackLocal decides with a memory limiter of the same policy in
	// each process while the store is down: every process then grants up to
	// the full limit on its own, so a fleet of N replicas grants up to N
	// times the limit. It is the default.
	FallbackLocal Degradation = "local"
)

// Config is the tunable configuration of one limiter. Algorithm is chosen
// in code; the other fields come from options, then
// GREL_RATELIMIT_{NAME}_{FIELD}, then GREL_RATELIMIT_{FIELD}, then the
// defaults below. Fields of the other algorithm are ignored, and setting
// one through an instance variable is an error.
type Config struct {
	// Algorithm is TokenBucket (the default) or SlidingWindow. Code only:
	// never read from a variable.
	Algorithm Algorithm

	// Rate is the number of permits the token bucket earns per Period
	// (RATE, default 10). Token bucket only.
	Rate float64
	// Period is the time over which Rate permits are earned (PERIOD,
	// default 1s). Token bucket only.
	Period time.Duration
	// Burst is the most permits the token bucket holds, and so the most a
	// key may take at once (BURST, default 10). Token bucket only.
	Burst int

	// Limit is the most permits granted per Window (LIMIT, default 100).
	// Sliding window only.
	Limit int
	// Window is the length of the sliding window (WINDOW, default 1m).
	// Sliding window only.
	Window time.Duration

	// Timeout bounds each call to a remote store (TIMEOUT, default 100ms).
	// A call that fails or times out is decided by Degradation. The memory
	// backend has no timeout.
	Timeout time.Duration
	// Degradation is the policy when the store fails (DEGRADATION:
	// fail_open, fail_closed or local; default local).
	Degradation Degradation
	// ProbeInterval is how long, after a store failure, decisions are
	// degraded at once without calling the store; then one decision probes
	// it again (PROBE_INTERVAL, default 1s; 0 calls the store every time).
	// It keeps a down store from adding Timeout to every request.
	ProbeInterval time.Duration

	// TrustedProxies lists the addresses and CIDR prefixes of the reverse
	// proxies whose forwarding header the HTTP middleware believes
	// (TRUSTED_PROXIES, comma-separated, default none: the client is the
	// peer address).
	TrustedProxies []string
	// ClientIPHeader is the header those proxies set: X-Forwarded-For,
	// Forwarded (RFC 7239), or a single-address header such as X-Real-IP
	// (CLIENT_IP_HEADER, default X-Forwarded-For).
	ClientIPHeader string
}

const (
	maxPermits  = 1_000_000_000
	maxSpan     = 366 * 24 * time.Hour
	minSpan     = time.Millisecond
	minInterval = time.Microsecond
)

var spec = grelconfig.NewSpec[Config](Kind).
	Algorithm(func(c *Config) string { return string(c.Algorithm) }).
	Check(checkConfig)

var (
	algorithmField = grelconfig.Var(spec, "ALGORITHM", func(c *Config) *Algorithm { return &c.Algorithm },
		TokenBucket, grelconfig.EnumCodec(TokenBucket, SlidingWindow)).
		CodeOnly().Doc("the algorithm, chosen in code")

	rateField = spec.Float("RATE", func(c *Config) *float64 { return &c.Rate }, 10, grelconfig.Positive[float64]()).
			For(string(TokenBucket)).Doc("permits the token bucket earns per PERIOD")
	periodField = spec.Duration("PERIOD", func(c *Config) *time.Duration { return &c.Period }, time.Second, grelconfig.Positive[time.Duration]()).
			For(string(TokenBucket)).Doc("the time over which RATE permits are earned")
	burstField = spec.Int("BURST", func(c *Config) *int { return &c.Burst }, 10, grelconfig.Between(1, maxPermits)).
			For(string(TokenBucket)).Doc("the most permits the bucket holds (taken at once)")

	limitField = spec.Int("LIMIT", func(c *Config) *int { return &c.Limit }, 100, grelconfig.Between(1, maxPermits)).
			For(string(SlidingWindow)).Doc("the most permits granted per WINDOW")
	windowField = spec.Duration("WINDOW", func(c *Config) *time.Duration { return &c.Window }, time.Minute, grelconfig.Between(minSpan, maxSpan)).
			For(string(SlidingWindow)).Doc("the length of the sliding window")

	timeoutField = spec.Duration("TIMEOUT", func(c *Config) *time.Duration { return &c.Timeout }, 100*time.Millisecond, grelconfig.Positive[time.Duration]()).
			Doc("bound of each call to a remote store")
	degradationField = grelconfig.Enum(spec, "DEGRADATION", func(c *Config) *Degradation { return &c.Degradation },
		FallbackLocal, FailOpen, FailClosed, FallbackLocal).Doc("what to do when the store fails: fail_open, fail_closed or local")
	probeField = spec.Duration("PROBE_INTERVAL", func(c *Config) *time.Duration { return &c.ProbeInterval }, time.Second, grelconfig.NonNegative[time.Duration]()).
			Doc("after a store failure, how long to degrade without calling the store")

	proxiesField = spec.List("TRUSTED_PROXIES", func(c *Config) *[]string { return &c.TrustedProxies }, nil,
		grelconfig.NewRule("must be IP addresses or CIDR prefixes", func(l []string) bool { _, err := ParsePrefixes(l); return err == nil })).
		Doc("reverse proxies whose forwarding header the HTTP middleware believes")
	headerField = spec.String("CLIENT_IP_HEADER", func(c *Config) *string { return &c.ClientIPHeader }, "X-Forwarded-For",
		grelconfig.NewRule("must be a header name", validHeaderName)).
		Doc("the header trusted proxies set: X-Forwarded-For, Forwarded or a single-address header")
)

// checkConfig is the rule across fields that the field rules cannot say.
func checkConfig(c *Config) error {
	switch c.Algorithm {
	case TokenBucket:
		if c.Rate <= 0 || c.Period <= 0 || c.Burst <= 0 {
			return nil // the field rules already refused them
		}
		interval := float64(c.Period) / c.Rate
		if interval < float64(minInterval) {
			return &grelconfig.Error{Field: "Rate", Origin: grelconfig.OriginConfig,
				Reason: "Rate per Period must be at most one permit per microsecond"}
		}
		if interval*float64(c.Burst) > float64(maxSpan) {
			return &grelconfig.Error{Field: "Burst", Origin: grelconfig.OriginConfig,
				Reason: "Burst x Period / Rate (the time to refill the bucket) must be at most 366 days"}
		}
	case SlidingWindow:
	default:
		return &grelconfig.Error{Field: "Algorithm", Origin: grelconfig.OriginConfig,
			Reason: "must be token_bucket or sliding_window"}
	}
	return nil
}

// DefaultConfig returns the defaults of an algorithm.
func DefaultConfig(a Algorithm) Config {
	c := spec.Defaults()
	c.Algorithm = a
	return c
}

// Validate checks cfg against every field rule and cross-field rule, as
// NewFromConfig and Reconfigure do.
func (c Config) Validate() error { return spec.Validate(c) }

// policy derives the backend-neutral Policy of a valid Config.
func (c Config) policy() Policy {
	if c.Algorithm == SlidingWindow {
		return Policy{Algorithm: SlidingWindow, Limit: int64(c.Limit), Window: c.Window}
	}
	interval := time.Duration(math.Round(float64(c.Period) / c.Rate))
	return Policy{Algorithm: TokenBucket, Limit: int64(c.Burst), Interval: interval}
}

// ParsePrefixes parses addresses ("10.0.0.1", "::1") and CIDR prefixes
// ("10.0.0.0/8") as used by TRUSTED_PROXIES. An address is a prefix of its
// full length. The error never repeats the input.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, errBadPrefix
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, errBadPrefix
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

var errBadPrefix = errors.New("grelratelimit: not an IP address or CIDR prefix")

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
