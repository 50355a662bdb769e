package grelredis

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want func(t *testing.T, o *Options)
	}{
		{"single tcp", "redis://user:hunter2@db.example:6380/3?dial_timeout=2&pool_size=7&read_timeout=1.5s", func(t *testing.T, o *Options) {
			s := mustMode(t, o, ModeSingle).Single
			check(t, "Addr", s.Addr, "db.example:6380")
			check(t, "DB", s.DB, 3)
			check(t, "Username", s.Username, "user")
			check(t, "Password", s.Password, "hunter2")
			check(t, "DialTimeout", s.DialTimeout, 2*time.Second)
			check(t, "ReadTimeout", s.ReadTimeout, 1500*time.Millisecond)
			check(t, "PoolSize", s.PoolSize, 7)
			check(t, "ContextTimeoutEnabled", s.ContextTimeoutEnabled, true)
			check(t, "TLS", s.TLSConfig == nil, true)
		}},
		{"single defaults", "redis://localhost", func(t *testing.T, o *Options) {
			s := mustMode(t, o, ModeSingle).Single
			check(t, "Addr", s.Addr, "localhost:6379")
			check(t, "DB", s.DB, 0)
		}},
		{"password only, percent-encoded", "redis://:p%40ss%3Aw0rd@127.0.0.1:6379/0", func(t *testing.T, o *Options) {
			s := mustMode(t, o, ModeSingle).Single
			check(t, "Password", s.Password, "p@ss:w0rd")
			check(t, "Username", s.Username, "")
		}},
		{"tls", "rediss://h:6380", func(t *testing.T, o *Options) {
			s := mustMode(t, o, ModeSingle).Single
			check(t, "TLS", s.TLSConfig != nil, true)
			check(t, "ServerName", s.TLSConfig.ServerName, "h")
		}},
		{"context timeout off", "redis://h/0?context_timeout_enabled=false", func(t *testing.T, o *Options) {
			check(t, "ContextTimeoutEnabled", mustMode(t, o, ModeSingle).Single.ContextTimeoutEnabled, false)
		}},
		{"unix socket", "unix://:pw@/run/redis.sock?db=2", func(t *testing.T, o *Options) {
			s := mustMode(t, o, ModeSingle).Single
			check(t, "Network", s.Network, "unix")
			check(t, "Addr", s.Addr, "/run/redis.sock")
			check(t, "DB", s.DB, 2)
			check(t, "Password", s.Password, "pw")
		}},
		{"sentinel", "redis+sentinel://:hunter2@s1,s2:26380,[::1]/mymaster/4?sentinel_password=sp&dial_timeout=3", func(t *testing.T, o *Options) {
			f := mustMode(t, o, ModeSentinel).Failover
			check(t, "MasterName", f.MasterName, "mymaster")
			check(t, "SentinelAddrs", strings.Join(f.SentinelAddrs, ","), "s1:26379,s2:26380,[::1]:26379")
			check(t, "DB", f.DB, 4)
			check(t, "Password", f.Password, "hunter2")
			check(t, "SentinelPassword", f.SentinelPassword, "sp")
			check(t, "DialTimeout", f.DialTimeout, 3*time.Second)
			check(t, "ContextTimeoutEnabled", f.ContextTimeoutEnabled, true)
		}},
		{"sentinel tls without db", "rediss+sentinel://s1:26379/m", func(t *testing.T, o *Options) {
			f := mustMode(t, o, ModeSentinel).Failover
			check(t, "DB", f.DB, 0)
			check(t, "TLS", f.TLSConfig != nil, true)
		}},
		{"cluster", "redis+cluster://u:pw@c1:7000,c2:7001,c3?read_only=true&pool_size=3", func(t *testing.T, o *Options) {
			c := mustMode(t, o, ModeCluster).Cluster
			check(t, "Addrs", strings.Join(c.Addrs, ","), "c1:7000,c2:7001,c3:6379")
			check(t, "Username", c.Username, "u")
			check(t, "Password", c.Password, "pw")
			check(t, "ReadOnly", c.ReadOnly, true)
			check(t, "PoolSize", c.PoolSize, 3)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tt.want(t, o)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		url    string
		reason string
	}{
		{"", "empty URL"},
		{"localhost:6379", "missing scheme"},
		{"http://:hunter2@h", "unsupported scheme"},
		{"redis://:hunter2@h:port/0", "not a valid URL"},
		{"redis://:hunter2@h/notadb", "database number is not a number"},
		{"redis://:hunter2@h/0/1", "the path must be"},
		{"redis://:hunter2@h/0?pool_size=hunter2", "pool_size is not a valid number"},
		{"redis://:hunter2@h/0?dial_timeout=soon", "dial_timeout is not a valid duration"},
		{"redis://:hunter2@h/0?no_such_knob=1", "unknown query parameter: no_such_knob"},
		{"redis://:hunter2@h/0?context_timeout_enabled=maybe", "context_timeout_enabled is not a valid boolean"},
		{"unix://:hunter2@", "unix socket path is empty"},
		{"redis+sentinel://:hunter2@s1:26379", "missing the master name"},
		{"redis+sentinel://:hunter2@s1:26379/m/x", "database number is not a number"},
		{"redis+sentinel://:hunter2@s1:26379/m/0/9", "the path must be /master_name[/db]"},
		{"redis+sentinel://:hunter2@s1:hunter2/m", "not host[:port]"},
		{"redis+sentinel://:hunter2@/m", "no host"},
		{"redis+sentinel://s1/m?password=hunter2", "query parameter password is not accepted"},
		{"redis+cluster://:hunter2@c1,c2/0", "a cluster URL has no path"},
		{"redis+cluster://:hunter2@c1?addr=c2:1", "query parameter addr is not accepted"},
		{"redis+cluster://:hunter2@c1?read_only=hunter2", "read_only is not a valid boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			if err == nil {
				t.Fatal("ParseURL accepted a malformed URL")
			}
			if !errors.Is(err, ErrInvalidURL) || !errors.Is(err, grelconfig.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalidURL and grelconfig.ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not say %q", msg, tt.reason)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q contains the password", msg)
			}
			if !strings.HasPrefix(msg, "grelredis: ") {
				t.Errorf("error %q lacks the package prefix", msg)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://:hunter2@h:6379/0", "redis://:xxxxx@h:6379/0"},
		{"redis://user:hunter2@h", "redis://user:xxxxx@h"},
		{"redis://user@h", "redis://user@h"},
		{"redis://h:6379/0?pool_size=3", "redis://h:6379/0?pool_size=3"},
		{"redis+sentinel://:a@b@s1,s2/m?sentinel_password=hunter2", "redis+sentinel://:xxxxx@s1,s2/m?sentinel_password=xxxxx"},
		{"unix://:hunter2@/run/r.sock?db=1", "unix://:xxxxx@/run/r.sock?db=1"},
		{"redis://:hunter2@h/0#frag", "redis://:xxxxx@h/0"},
		{"not a url", "<invalid URL>"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "http", ""} {
		f.Add(s, "h:6379/0?pool_size=2")
		f.Add(s, "h1,h2:1/m/0?sentinel_password=x")
	}
	f.Fuzz(func(t *testing.T, scheme, rest string) {
		const mark = "S3cretMark"
		raw := scheme + "://u:" + mark + "@" + rest
		if _, err := ParseURL(raw); err != nil && strings.Contains(err.Error(), mark) {
			t.Fatalf("error leaks the password: %v", err)
		}
		if strings.Contains(RedactURL(raw), mark) {
			t.Fatalf("RedactURL leaks the password: %q", RedactURL(raw))
		}
	})
}

func mustMode(t *testing.T, o *Options, m Mode) *Options {
	t.Helper()
	if o.Mode != m {
		t.Fatalf("Mode = %s, want %s", o.Mode, m)
	}
	return o
}

func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
