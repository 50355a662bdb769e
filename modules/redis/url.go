package grelredis

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Mode is the kind of deployment a Redis URL addresses.
type Mode string

// The three deployments a URL can address.
const (
	ModeSingle   Mode = "single"   // redis://, rediss://, unix://
	ModeSentinel Mode = "sentinel" // redis+sentinel://, rediss+sentinel://
	ModeCluster  Mode = "cluster"  // redis+cluster://, rediss+cluster://
)

// Default ports of the multi-host forms when a host has none.
const (
	defaultPort         = "6379"
	defaultSentinelPort = "26379"
)

// DefaultURL is the URL of the default instance when REDIS_URL is not set.
const DefaultURL = "redis://localhost:6379/0"

// Options is a parsed Redis URL: exactly one of Single, Failover and Cluster
// is set, according to Mode. The go-redis option structs can be changed
// before [Options.NewClient].
type Options struct {
	Mode     Mode
	Single   *redis.Options
	Failover *redis.FailoverOptions
	Cluster  *redis.ClusterOptions
}

// NewClient returns a go-redis client for the options: a *redis.Client for
// single servers and Sentinel (failover), a *redis.ClusterClient for Cluster.
func (o *Options) NewClient() redis.UniversalClient {
	switch o.Mode {
	case ModeSentinel:
		return redis.NewFailoverClient(o.Failover)
	case ModeCluster:
		return redis.NewClusterClient(o.Cluster)
	default:
		return redis.NewClient(o.Single)
	}
}

// ParseURL parses a Redis URL in one of the forms below. Query parameters
// are go-redis's own (dial_timeout, read_timeout, write_timeout, pool_size,
// min_idle_conns, max_retries, ... in snake case; a bare number of a
// duration means seconds) plus context_timeout_enabled (default true here:
// commands honour their ctx deadline).
//
//	redis://[[user]:password@]host[:6379][/db][?params]
//	rediss://... (TLS)
//	unix://[[user]:password@]/path/to/redis.sock[?db=N&params]
//	redis+sentinel://[[user]:password@]host1[:26379][,host2[:26379]...]/master_name[/db][?params]
//	rediss+sentinel://... (TLS to sentinels and servers)
//	redis+cluster://[[user]:password@]host1[:6379][,host2[:6379]...][?params]
//	rediss+cluster://... (TLS)
//
// In the Sentinel form the user info authenticates to the servers; the
// sentinels' own credentials, when they need any, are the query parameters
// sentinel_username and sentinel_password.
//
// A malformed URL is a [*URLError] whose message never contains the URL.
func ParseURL(rawURL string) (*Options, error) {
	o, reason := parseURL(rawURL)
	if reason != "" {
		return nil, &URLError{Reason: reason}
	}
	return o, nil
}

const formsHint = "use redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// (see docs/providers.md)"

func parseURL(raw string) (*Options, string) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok || scheme == "" {
		if strings.TrimSpace(raw) == "" {
			return nil, "empty URL"
		}
		return nil, "missing scheme: " + formsHint
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		return parseSingle(strings.ToLower(scheme), rest)
	case "redis+sentinel", "rediss+sentinel":
		return parseMulti(ModeSentinel, strings.HasPrefix(strings.ToLower(scheme), "rediss"), rest)
	case "redis+cluster", "rediss+cluster":
		return parseMulti(ModeCluster, strings.HasPrefix(strings.ToLower(scheme), "rediss"), rest)
	}
	return nil, "unsupported scheme: " + formsHint
}

const notURL = "not a valid URL (a password with reserved characters such as @ : / ? # must be percent-encoded)"

func parseSingle(scheme, rest string) (*Options, string) {
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return nil, notURL
	}
	user, pass := userPassword(u)
	u.User = nil
	q := u.Query()
	cte, reason := takeContextTimeout(q)
	if reason != "" {
		return nil, reason
	}
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, cleanReason(err)
	}
	opts.Username, opts.Password = user, pass
	opts.ContextTimeoutEnabled = cte
	return &Options{Mode: ModeSingle, Single: opts}, ""
}

// parseMulti parses the Sentinel and Cluster forms, whose authority is a
// comma-separated host list that net/url does not accept.
func parseMulti(mode Mode, tls bool, rest string) (*Options, string) {
	userinfo, authority, tail := provider.SplitAuthority(rest)
	port := defaultPort
	if mode == ModeSentinel {
		port = defaultSentinelPort
	}
	var hosts []string
	for _, h := range strings.Split(authority, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		hp, ok := hostPort(h, port)
		if !ok {
			return nil, "a host of the host list is not host[:port]"
		}
		hosts = append(hosts, hp)
	}
	if len(hosts) == 0 {
		return nil, "no host in the host list"
	}
	base := "redis"
	if tls {
		base = "rediss"
	}
	// Parse user info, path and query with net/url over a placeholder host.
	u, err := url.Parse(base + "://" + userinfo + "placeholder" + tail)
	if err != nil {
		return nil, notURL
	}
	user, pass := userPassword(u)
	q := u.Query()
	for _, k := range []string{"addr", "username", "password", "master_name"} {
		if q.Has(k) {
			return nil, "query parameter " + k + " is not accepted in this form: put hosts in the host list, credentials in the user info and the master name in the path"
		}
	}
	cte, reason := takeContextTimeout(q)
	if reason != "" {
		return nil, reason
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if mode == ModeCluster {
		if len(segs) > 0 {
			return nil, "a cluster URL has no path (Redis Cluster has no database numbers)"
		}
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		target := url.URL{Scheme: base, Host: hosts[0], RawQuery: q.Encode()}
		co, err := redis.ParseClusterURL(target.String())
		if err != nil {
			return nil, cleanReason(err)
		}
		co.Username, co.Password = user, pass
		co.ContextTimeoutEnabled = cte
		return &Options{Mode: ModeCluster, Cluster: co}, ""
	}
	if len(segs) == 0 {
		return nil, "missing the master name: redis+sentinel://host:26379/master_name[/db]"
	}
	if len(segs) > 2 {
		return nil, "the path must be /master_name[/db]"
	}
	sentUser, sentPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	q.Set("master_name", segs[0])
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	path := ""
	if len(segs) == 2 {
		if _, err := strconv.Atoi(segs[1]); err != nil {
			return nil, "the database number is not a number"
		}
		path = "/" + segs[1]
	}
	target := url.URL{Scheme: base, Host: hosts[0], Path: path, RawQuery: q.Encode()}
	fo, err := redis.ParseFailoverURL(target.String())
	if err != nil {
		return nil, cleanReason(err)
	}
	fo.Username, fo.Password = user, pass
	fo.SentinelUsername, fo.SentinelPassword = sentUser, sentPass
	fo.ContextTimeoutEnabled = cte
	return &Options{Mode: ModeSentinel, Failover: fo}, ""
}

func hostPort(h, defPort string) (string, bool) {
	if host, port, err := net.SplitHostPort(h); err == nil {
		if host == "" || !validPort(port) {
			return "", false
		}
		return net.JoinHostPort(host, port), true
	}
	host := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if host == "" || strings.ContainsAny(host, "[]/ @") {
		return "", false
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(h, "[") {
		return "", false // an IPv6 literal needs brackets
	}
	return net.JoinHostPort(host, defPort), true
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

func userPassword(u *url.URL) (string, string) {
	if u.User == nil {
		return "", ""
	}
	p, _ := u.User.Password()
	return u.User.Username(), p
}

func takeContextTimeout(q url.Values) (bool, string) {
	if !q.Has("context_timeout_enabled") {
		return true, ""
	}
	v := q.Get("context_timeout_enabled")
	q.Del("context_timeout_enabled")
	b, err := grelconfig.ParseBool(v)
	if err != nil {
		return false, "query parameter context_timeout_enabled is not a valid boolean"
	}
	return b, ""
}

var (
	reInvalidParam = regexp.MustCompile(`^redis: invalid ([a-z_]+) (number|duration|boolean)`)
	reUnexpected   = regexp.MustCompile(`^redis: unexpected option: ([a-zA-Z0-9_, ]+)$`)
)

// cleanReason turns a go-redis parse error into a reason that keeps the
// parameter name and drops the value.
func cleanReason(err error) string {
	msg := err.Error()
	if m := reInvalidParam.FindStringSubmatch(msg); m != nil {
		if m[1] == "database" {
			return "the database number is not a number"
		}
		return "query parameter " + m[1] + " is not a valid " + m[2]
	}
	if m := reUnexpected.FindStringSubmatch(msg); m != nil {
		return "unknown query parameter: " + m[1]
	}
	switch {
	case strings.HasPrefix(msg, "redis: invalid URL path"):
		return "the path must be /<database number>"
	case strings.HasPrefix(msg, "redis: empty unix socket path"):
		return "the unix socket path is empty"
	}
	return "not a valid Redis URL: " + formsHint
}

// RedactURL returns rawURL with its password and any password query
// parameter replaced by "xxxxx", for logs and error messages. When the
// user info cannot be told apart with certainty (an unencoded '/' or '@' in
// a password), everything after the scheme is hidden. A string that is not
// a URL gives "<invalid URL>".
func RedactURL(rawURL string) string {
	if redacted, ok := provider.RedactURL(rawURL, "password", "sentinel_password"); ok {
		return redacted
	}
	return "<invalid URL>"
}
