package grelratelimit

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The header fields the middleware writes. RateLimit and RateLimit-Policy
// follow draft-ietf-httpapi-ratelimit-headers-11 (structured fields, RFC
// 9651).
const (
	HeaderRateLimit       = "RateLimit"
	HeaderRateLimitPolicy = "RateLimit-Policy"
	HeaderRetryAfter      = "Retry-After"
)

// The problem types of refused requests (draft-ietf-httpapi-ratelimit-headers
// section 5), in application/problem+json bodies (RFC 9457).
const (
	ProblemQuotaExceeded    = "https://iana.org/assignments/http-problem-types#quota-exceeded"
	ProblemReducedCapacity  = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"
	problemContentType      = "application/problem+json"
	defaultPolicyName       = "default"
	userKeyPrefix           = "user:"
	keyJoinSeparator        = "|"
	maxForwardedHops        = 64
	forwardedHeaderName     = "Forwarded"
	xForwardedForHeaderName = "X-Forwarded-For"
)

// KeyFunc returns the key a request is limited under. ok false exempts the
// request: it is served without a decision and without RateLimit fields
// (health probes, for example). Keys of different functions combined with
// [KeyFirst] should not collide; [KeyByUser] prefixes its keys with
// "user:" for that reason.
type KeyFunc func(r *http.Request) (key string, ok bool)

// MiddlewareOption configures [Middleware].
type MiddlewareOption func(*middleware)

// WithKey sets how a request's key is found (default: the limiter's
// [Limiter.ClientIPKey]).
func WithKey(f KeyFunc) MiddlewareOption {
	return func(m *middleware) {
		if f != nil {
			m.key = f
		}
	}
}

// WithPolicyName sets the policy name in the RateLimit fields (default:
// the limiter's name, or "default" for the unnamed limiter). Characters
// outside printable ASCII are dropped.
func WithPolicyName(name string) MiddlewareOption {
	return func(m *middleware) { m.policyName = sanitizeSFString(name) }
}

// Middleware limits an http.Handler with l, one permit per request, under
// the key of [WithKey]. On every decided response it sets
//
//	RateLimit-Policy: "<policy>";q=<Limit>;w=<window seconds>
//	RateLimit: "<policy>";r=<Remaining>;t=<seconds>
//
// where w is the sliding window's Window, or the token bucket's time to
// refill Burst (Burst x Period / Rate), rounded up to whole seconds; and t
// is ResetAfter rounded up when allowed. A refused request is answered 429
// Too Many Requests with Retry-After = RetryAfter in whole seconds rounded
// up (at least 1), t equal to it (so Retry-After is not earlier than the
// effective window ends), and an application/problem+json body of type
// quota-exceeded. When the store is down and the degradation policy is
// FailClosed, the answer is 503 Service Unavailable with the problem type
// temporary-reduced-capacity; FailOpen and FallbackLocal serve as decided.
// If the client goes away before the decision, nothing is written; another
// error is a 500 problem.
func Middleware(l *Limiter, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m := &middleware{l: l, key: l.ClientIPKey(), policyName: sanitizeSFString(l.name)}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	if m.policyName == "" {
		m.policyName = defaultPolicyName
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}
}

type middleware struct {
	l          *Limiter
	key        KeyFunc
	policyName string
	cache      atomic.Pointer[policyValue]
}

type policyValue struct {
	policy Policy
	value  string
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key, ok := m.key(r)
	if !ok {
		next.ServeHTTP(w, r)
		return
	}
	res, err := m.l.Allow(r.Context(), key)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client is gone: nobody reads an answer
		}
		writeProblem(w, http.StatusInternalServerError, problem{Type: "about:blank", Title: "Internal Server Error",
			Status: http.StatusInternalServerError, Detail: "The rate limit could not be checked."})
		return
	}
	h := w.Header()
	h.Set(HeaderRateLimitPolicy, m.policyField())
	if res.Allowed {
		h.Set(HeaderRateLimit, m.limitField(res.Remaining, ceilSeconds(res.ResetAfter)))
		next.ServeHTTP(w, r)
		return
	}
	retry := max(ceilSeconds(res.RetryAfter), 1)
	h.Set(HeaderRateLimit, m.limitField(0, retry))
	h.Set(HeaderRetryAfter, strconv.FormatInt(retry, 10))
	p := problem{Type: ProblemQuotaExceeded, Title: "Quota exceeded", Status: http.StatusTooManyRequests,
		Detail:           "The request exceeds the " + m.policyName + " rate limit; retry in " + strconv.FormatInt(retry, 10) + " seconds.",
		ViolatedPolicies: []string{m.policyName}}
	if res.Mode == ModeFailClosed {
		p.Type, p.Title, p.Status = ProblemReducedCapacity, "Temporarily reduced capacity", http.StatusServiceUnavailable
		p.Detail = "The rate limit cannot be checked at the moment; retry in " + seconds(retry) + "."
	}
	writeProblem(w, p.Status, p)
}

// policyField formats RateLimit-Policy for the current policy, cached until
// a Reconfigure changes it.
func (m *middleware) policyField() string {
	p := m.l.Policy()
	if c := m.cache.Load(); c != nil && c.policy == p {
		return c.value
	}
	span := p.Window
	if p.Algorithm == TokenBucket {
		span = time.Duration(min(float64(p.Interval)*float64(p.Limit), math.MaxInt64))
	}
	v := sfString(m.policyName) + ";q=" + strconv.FormatInt(p.Limit, 10) + ";w=" + strconv.FormatInt(max(ceilSeconds(span), 1), 10)
	m.cache.Store(&policyValue{policy: p, value: v})
	return v
}

func (m *middleware) limitField(remaining int, t int64) string {
	return sfString(m.policyName) + ";r=" + strconv.Itoa(max(remaining, 0)) + ";t=" + strconv.FormatInt(t, 10)
}

func seconds(n int64) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.FormatInt(n, 10) + " seconds"
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

type problem struct {
	Type             string   `json:"type"`
	Title            string   `json:"title"`
	Status           int      `json:"status"`
	Detail           string   `json:"detail,omitempty"`
	ViolatedPolicies []string `json:"violated-policies,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, p problem) {
	body, _ := json.Marshal(p) // plain strings and ints: cannot fail
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// sfString formats s (printable ASCII) as a structured-field String.
func sfString(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func sanitizeSFString(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// ClientIPKey returns the KeyFunc of the client address under the
// limiter's current TRUSTED_PROXIES and CLIENT_IP_HEADER (see [ClientIP]);
// a Reconfigure applies to the next request.
func (l *Limiter) ClientIPKey() KeyFunc {
	return func(r *http.Request) (string, bool) {
		cur := l.cur.Load()
		return ClientIP(r, cur.proxies, cur.cfg.ClientIPHeader), true
	}
}

// KeyByClientIP returns the KeyFunc of [ClientIP] with fixed trusted
// proxies and header.
func KeyByClientIP(trusted []netip.Prefix, header string) KeyFunc {
	return func(r *http.Request) (string, bool) { return ClientIP(r, trusted, header), true }
}

// KeyByHeader keys requests by the value of a header; requests without it
// are not decided by this function (ok false).
func KeyByHeader(name string) KeyFunc {
	return func(r *http.Request) (string, bool) {
		v := r.Header.Get(name)
		return v, v != ""
	}
}

// KeyByRoute keys requests by their route: the pattern http.ServeMux
// matched (r.Pattern, when the middleware wraps a handler registered on a
// mux), else the method and path.
func KeyByRoute() KeyFunc {
	return func(r *http.Request) (string, bool) {
		if r.Pattern != "" {
			return r.Pattern, true
		}
		return r.Method + " " + r.URL.Path, true
	}
}

// KeyByUser keys requests by the user user returns, prefixed with "user:";
// requests without a user (ok false) are not decided by this function.
func KeyByUser(user func(r *http.Request) (id string, ok bool)) KeyFunc {
	return func(r *http.Request) (string, bool) {
		id, ok := user(r)
		if !ok {
			return "", false
		}
		return userKeyPrefix + id, true
	}
}

// KeyFirst returns the key of the first function that has one: for
// example KeyFirst(KeyByUser(f), l.ClientIPKey()) limits signed-in users
// by user and others by address. With none, the request is exempt.
func KeyFirst(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		for _, f := range fns {
			if k, ok := f(r); ok {
				return k, true
			}
		}
		return "", false
	}
}

// KeyJoin joins the keys of every function with "|" (for example a route
// and a client address, to limit each client per route). If one has no
// key, the request is exempt.
func KeyJoin(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		parts := make([]string, 0, len(fns))
		for _, f := range fns {
			k, ok := f(r)
			if !ok {
				return "", false
			}
			parts = append(parts, k)
		}
		return strings.Join(parts, keyJoinSeparator), true
	}
}

// ClientIP returns the client address of r. The peer (r.RemoteAddr) is the
// client unless it is one of the trusted proxies; then the forwarding
// header is read from the right (the hop the nearest proxy added) to the
// left, skipping trusted proxies, and the first untrusted hop is the
// client: hops to its left were written by the client and prove nothing.
// If every hop is trusted, the leftmost is the client; if a hop does not
// parse, the last trusted hop before it is.
//
// header is "X-Forwarded-For" (comma-separated, every field line in
// order), "Forwarded" (RFC 7239, its for= parameters) or a header that
// carries one address set by the proxy (X-Real-IP; its last field line is
// used). Only the configured header is read: a proxy that sets one does not
// strip the other. Addresses are returned in canonical form, IPv4-mapped
// IPv6 as IPv4, without port or zone. An unparsable RemoteAddr is returned
// as is.
func ClientIP(r *http.Request, trusted []netip.Prefix, header string) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	values := r.Header.Values(header)
	if len(values) == 0 {
		return peer.String()
	}
	var hops []string
	switch http.CanonicalHeaderKey(header) {
	case forwardedHeaderName:
		hops = forwardedFor(values)
	case xForwardedForHeaderName:
		for _, v := range values {
			hops = append(hops, strings.Split(v, ",")...)
		}
	default:
		hops = values[len(values)-1:]
	}
	client := peer
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80",
// with surrounding spaces or quotes.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// forwardedFor returns the for= values of RFC 7239 Forwarded field lines,
// one per forwarded-element in order ("" for an element without for=, so
// that it stops the walk).
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			f := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					f = unquote(strings.TrimSpace(value))
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// splitQuoted splits s on sep outside quoted strings.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
