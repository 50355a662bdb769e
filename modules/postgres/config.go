package grelpostgres

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/provider"
)

// Kind is the provider's config kind: GREL_POSTGRES_* and describe entries.
const Kind = "POSTGRES"

// DefaultSchema holds grelmicro's tables unless GREL_POSTGRES_SCHEMA says
// otherwise.
const DefaultSchema = "public"

// Config is grelmicro's own settings of one PostgreSQL instance; the
// connection itself comes from the vendor variables (DATABASE_URL, PG*).
type Config struct {
	// Schema holds grelmicro's tables (GREL_POSTGRES_SCHEMA).
	Schema string
	// Migrate runs the migrations of MigrationsGroup at start
	// (GREL_POSTGRES_MIGRATE). Off: call [Migrate] yourself.
	Migrate bool
}

var spec = grelconfig.NewSpec[Config](Kind)

var (
	schemaField = spec.String("SCHEMA", func(c *Config) *string { return &c.Schema }, DefaultSchema,
		grelconfig.NewRule("must be a PostgreSQL identifier of 1 to 63 bytes", func(s string) bool { return s != "" && len(s) <= 63 })).
		Doc("schema that holds grelmicro's tables (created if missing)")
	migrateField = spec.Bool("MIGRATE", func(c *Config) *bool { return &c.Migrate }, true).
			Doc("create grelmicro's tables at start; false: call grelpostgres.Migrate yourself")
)

// Validate checks a Config given as-is.
func (c Config) Validate() error { return spec.Validate(c) }

// URLVariables returns the vendor variables that hold the named instance's
// connection string, in the order they are tried: DATABASE_URL then
// POSTGRES_URL for the default (""), DATABASE_{NAME}_URL then
// POSTGRES_{NAME}_URL otherwise.
func URLVariables(name string) ([]string, error) {
	seg, err := grelconfig.NormalizeName(name)
	if err != nil {
		return nil, err
	}
	if seg == "" {
		return []string{"DATABASE_URL", "POSTGRES_URL"}, nil
	}
	return []string{"DATABASE_" + seg + "_URL", "POSTGRES_" + seg + "_URL"}, nil
}

// libpqVar is one of libpq's PG* variables, with the connection keyword it
// sets.
type libpqVar struct {
	name, keyword string
	common        bool // always listed by describe; the others only when set
	secret        bool
}

// libpqVars are the variables pgx reads the way libpq does.
var libpqVars = []libpqVar{
	{"PGHOST", "host", true, false},
	{"PGPORT", "port", true, false},
	{"PGDATABASE", "dbname", true, false},
	{"PGUSER", "user", true, false},
	{"PGPASSWORD", "password", true, true},
	{"PGSSLMODE", "sslmode", true, false},
	{"PGAPPNAME", "application_name", false, false},
	{"PGCONNECT_TIMEOUT", "connect_timeout", false, false},
	{"PGPASSFILE", "passfile", false, false},
	{"PGSERVICE", "service", false, false},
	{"PGSERVICEFILE", "servicefile", false, false},
	{"PGSSLCERT", "sslcert", false, false},
	{"PGSSLKEY", "sslkey", false, false},
	{"PGSSLROOTCERT", "sslrootcert", false, false},
	{"PGSSLPASSWORD", "sslpassword", false, true},
	{"PGSSLSNI", "sslsni", false, false},
	{"PGSSLCERTMODE", "sslcertmode", false, false},
	{"PGSSLNEGOTIATION", "sslnegotiation", false, false},
	{"PGTARGETSESSIONATTRS", "target_session_attrs", false, false},
	{"PGTZ", "timezone", false, false},
	{"PGOPTIONS", "options", false, false},
	{"PGMINPROTOCOLVERSION", "min_protocol_version", false, false},
	{"PGMAXPROTOCOLVERSION", "max_protocol_version", false, false},
	{"PGCHANNELBINDING", "channel_binding", false, false},
	{"PGREQUIREAUTH", "require_auth", false, false},
}

// vendorSettings reads the instance's connection string (unless code gave
// it) and the PG* variables through reg. It returns the connection string
// pgx parses and the variables that were set (for error messages).
func vendorSettings(reg *grelconfig.Registry, name, codeConn string, hasCode bool) (conn string, used []string, err error) {
	vars, err := URLVariables(name)
	if err != nil {
		return "", nil, err
	}
	raw := codeConn
	for _, v := range vars {
		if hasCode {
			break
		}
		val, ok := reg.Vendor(grelconfig.VendorVar{
			Name: v, Kind: Kind, Instance: name, Type: "url",
			Doc:    "PostgreSQL connection string (postgres:// URL or keyword=value)",
			Redact: RedactConnString,
		})
		if ok && raw == "" {
			raw, used = val, append(used, v)
		}
	}
	src := reg.Source()
	var kv []string
	for _, pv := range libpqVars {
		if !pv.common {
			if _, ok := src.Lookup(pv.name); !ok {
				continue
			}
		}
		val, ok := reg.Vendor(grelconfig.VendorVar{
			Name: pv.name, Kind: Kind, Instance: name, Secret: pv.secret,
			Doc: "libpq: " + pv.keyword,
		})
		if ok && val != "" {
			kv = append(kv, pv.keyword+"="+quoteKV(val))
			used = append(used, pv.name)
		}
	}
	if raw == "" && !hasCode && name != "" {
		return "", nil, &ConfigError{Variables: vars[:1], Reason: "not set (a named instance needs its own connection string)"}
	}
	conn, reason := mergeConnString(kv, raw)
	if reason != "" {
		return "", nil, &ConfigError{Variables: used, Reason: reason}
	}
	return conn, used, nil
}

// mergeConnString appends the settings of raw (a URL or keyword/value
// string) after the PG* settings in kv, so that raw wins like it does in
// libpq.
func mergeConnString(kv []string, raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		settings, reason := urlSettings(raw)
		if reason != "" {
			return "", reason
		}
		kv = append(kv, settings...)
	case strings.Contains(raw, "://"):
		return "", "unsupported scheme: use postgres://, postgresql:// or keyword=value"
	default:
		kv = append(kv, raw)
	}
	return strings.Join(kv, " "), ""
}

const notURL = "not a valid URL (a password with reserved characters such as @ : / ? # must be percent-encoded)"

// urlSettings turns a postgres:// URL into keyword=value settings. The host
// list may hold several host[:port] separated by commas, as in libpq.
func urlSettings(raw string) ([]string, string) {
	scheme, rest, _ := strings.Cut(raw, "://")
	userinfo, authority, tail := provider.SplitAuthority(rest)
	u, err := url.Parse(scheme + "://" + userinfo + "placeholder" + tail)
	if err != nil {
		return nil, notURL
	}
	var out []string
	if u.User != nil {
		if n := u.User.Username(); n != "" {
			out = append(out, "user="+quoteKV(n))
		}
		if p, ok := u.User.Password(); ok {
			out = append(out, "password="+quoteKV(p))
		}
	}
	if authority != "" {
		var hosts, ports []string
		anyPort := false
		for _, h := range strings.Split(authority, ",") {
			host, port, ok := splitHost(h)
			if !ok {
				return nil, "a host of the host list is not host[:port]"
			}
			if host == "" {
				return nil, "empty host in the host list"
			}
			hosts, ports = append(hosts, host), append(ports, port)
			anyPort = anyPort || port != ""
		}
		out = append(out, "host="+quoteKV(strings.Join(hosts, ",")))
		if anyPort {
			out = append(out, "port="+quoteKV(strings.Join(ports, ",")))
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		out = append(out, "dbname="+quoteKV(db))
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := q.Get(k)
		if vs := q[k]; len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		if k == "ssl" && v == "true" {
			if !q.Has("sslmode") {
				out = append(out, "sslmode=require")
			}
			continue
		}
		if !validKeyword(k) {
			return nil, "a query parameter name is not a connection keyword"
		}
		out = append(out, k+"="+quoteKV(v))
	}
	return out, ""
}

func splitHost(h string) (host, port string, ok bool) {
	h = strings.TrimSpace(h)
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return "", "", false
		}
		host, rest := h[1:end], h[end+1:]
		if rest == "" {
			return host, "", true
		}
		if !strings.HasPrefix(rest, ":") || !validPort(rest[1:]) {
			return "", "", false
		}
		return host, rest[1:], true
	}
	if i := strings.LastIndex(h, ":"); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", "", false
		}
		return unescapeHost(h[:i]), h[i+1:], true
	}
	return unescapeHost(h), "", true
}

func unescapeHost(h string) string {
	if s, err := url.PathUnescape(h); err == nil {
		return s
	}
	return h
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

var reKeyword = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

func validKeyword(k string) bool { return reKeyword.MatchString(k) }

// quoteKV quotes a keyword/value value.
func quoteKV(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// parsePoolConfig parses conn with pgxpool and turns its errors into
// reasons without values.
func parsePoolConfig(conn string, vars []string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(conn)
	if err == nil {
		return cfg, nil
	}
	return nil, &ConfigError{Variables: vars, Reason: cleanReason(err)}
}

var reQuoted = regexp.MustCompile("(\"[^\"]*\"|`[^`]*`|'[^']*')")

// cleanReason keeps what pgx says is wrong and drops every value: the
// connection string it echoes, and whatever follows a colon or sits in
// quotes.
func cleanReason(err error) string {
	var pce *pgconn.ParseConfigError
	msg := err.Error()
	if errors.As(err, &pce) {
		msg = pce.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
		if i := strings.Index(msg, " ("); i >= 0 {
			msg = msg[:i]
		}
	}
	if i := strings.Index(msg, ":"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimSpace(reQuoted.ReplaceAllString(msg, ""))
	if msg == "" || strings.Contains(msg, "=") || strings.Contains(msg, "@") {
		return "not a valid PostgreSQL connection string"
	}
	return msg
}

var reKVPassword = regexp.MustCompile(`((?:^|\s)(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// RedactConnString returns a connection string with its passwords replaced
// by "xxxxx", for logs, errors and describe. When the user info of a URL
// cannot be told apart with certainty (an unencoded '/' or '@' in a
// password), everything after the scheme is hidden.
func RedactConnString(conn string) string {
	conn = strings.TrimSpace(conn)
	if redacted, ok := provider.RedactURL(conn, "password", "sslpassword"); ok {
		return redacted
	}
	return reKVPassword.ReplaceAllString(conn, "${1}xxxxx")
}

// describeConfig names the server a pool dials: user, hosts, database. It
// never includes the password.
func describeConfig(cc *pgconn.Config) string {
	hosts := []string{hostPort(cc.Host, cc.Port)}
	for _, f := range cc.Fallbacks {
		hp := hostPort(f.Host, f.Port)
		if !slices.Contains(hosts, hp) {
			hosts = append(hosts, hp)
		}
	}
	user := ""
	if cc.User != "" {
		user = url.User(cc.User).String() + "@"
	}
	return "postgres://" + user + strings.Join(hosts, ",") + "/" + url.PathEscape(cc.Database)
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return url.PathEscape(host + "/.s.PGSQL." + strconv.Itoa(int(port)))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
