package grelpostgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

func newFrom(t *testing.T, name string, env map[string]string, opts ...Option) (*Provider, error) {
	t.Helper()
	p, err := New(name, append([]Option{WithRegistry(grelconfig.NewRegistry(grelconfig.Map(env)))}, opts...)...)
	if err == nil {
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
	}
	return p, err
}

func TestConnectionSettings(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		env      map[string]string
		opts     []Option
		want     func(t *testing.T, p *Provider)
	}{
		{"url", "", map[string]string{"DATABASE_URL": "postgres://app:hunter2@db.internal:6543/orders?sslmode=disable&application_name=svc&pool_max_conns=7"},
			nil, func(t *testing.T, p *Provider) {
				c := p.Pool().Config()
				check(t, "Host", c.ConnConfig.Host, "db.internal")
				check(t, "Port", c.ConnConfig.Port, uint16(6543))
				check(t, "User", c.ConnConfig.User, "app")
				check(t, "Password", c.ConnConfig.Password, "hunter2")
				check(t, "Database", c.ConnConfig.Database, "orders")
				check(t, "application_name", c.ConnConfig.RuntimeParams["application_name"], "svc")
				check(t, "MaxConns", c.MaxConns, int32(7))
				check(t, "TLS", c.ConnConfig.TLSConfig == nil, true)
				check(t, "Addr", p.Addr(), "postgres://app@db.internal:6543/orders")
			}},
		{"POSTGRES_URL when DATABASE_URL is unset", "", map[string]string{"POSTGRES_URL": "postgres://h2/db2?sslmode=disable"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Host", p.Pool().Config().ConnConfig.Host, "h2")
			}},
		{"DATABASE_URL wins over POSTGRES_URL", "", map[string]string{"DATABASE_URL": "postgres://h1/db?sslmode=disable", "POSTGRES_URL": "postgres://h2/db?sslmode=disable"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Host", p.Pool().Config().ConnConfig.Host, "h1")
			}},
		{"PG* fill what the URL leaves out", "", map[string]string{
			"DATABASE_URL": "postgres://app@db.internal/orders?sslmode=disable",
			"PGPASSWORD":   "from'env\\", "PGPORT": "7777", "PGHOST": "ignored", "PGAPPNAME": "fromenv"},
			nil, func(t *testing.T, p *Provider) {
				c := p.Pool().Config().ConnConfig
				check(t, "Host", c.Host, "db.internal")
				check(t, "Port", c.Port, uint16(7777))
				check(t, "Password", c.Password, "from'env\\")
				check(t, "application_name", c.RuntimeParams["application_name"], "fromenv")
			}},
		{"URL password wins over PGPASSWORD", "", map[string]string{"DATABASE_URL": "postgres://app:url@h/db?sslmode=disable", "PGPASSWORD": "env"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Password", p.Pool().Config().ConnConfig.Password, "url")
			}},
		{"PG* alone", "", map[string]string{"PGHOST": "pghost", "PGPORT": "5555", "PGUSER": "u", "PGDATABASE": "d", "PGSSLMODE": "disable"},
			nil, func(t *testing.T, p *Provider) {
				c := p.Pool().Config().ConnConfig
				check(t, "Addr", p.Addr(), "postgres://u@pghost:5555/d")
				check(t, "TLS", c.TLSConfig == nil, true)
			}},
		{"keyword/value string", "", map[string]string{"DATABASE_URL": "host=kv port=5433 dbname=x user=y password=hunter2 sslmode=disable"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Addr", p.Addr(), "postgres://y@kv:5433/x")
			}},
		{"multi-host URL", "", map[string]string{"DATABASE_URL": "postgres://u@a:5432,b:5433,[::1]/d?sslmode=disable&target_session_attrs=read-write"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Addr", p.Addr(), "postgres://u@a:5432,b:5433,[::1]:5432/d")
			}},
		{"percent-encoded credentials and database", "", map[string]string{"DATABASE_URL": "postgres://us%40er:p%2Fw@h/my%20db?sslmode=disable"},
			nil, func(t *testing.T, p *Provider) {
				c := p.Pool().Config().ConnConfig
				check(t, "User", c.User, "us@er")
				check(t, "Password", c.Password, "p/w")
				check(t, "Database", c.Database, "my db")
			}},
		{"named instance", "reports", map[string]string{"DATABASE_URL": "postgres://main/db?sslmode=disable", "DATABASE_REPORTS_URL": "postgres://replica/db?sslmode=disable",
			"GREL_POSTGRES_REPORTS_SCHEMA": "grel_reports", "GREL_POSTGRES_MIGRATE": "false"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Host", p.Pool().Config().ConnConfig.Host, "replica")
				check(t, "Schema", p.Schema(), "grel_reports")
				check(t, "Migrate", p.Config().Migrate, false)
			}},
		{"named from POSTGRES_{NAME}_URL", "reports", map[string]string{"POSTGRES_REPORTS_URL": "postgres://replica2/db?sslmode=disable"},
			nil, func(t *testing.T, p *Provider) {
				check(t, "Host", p.Pool().Config().ConnConfig.Host, "replica2")
				check(t, "Schema", p.Schema(), DefaultSchema)
				check(t, "Migrate", p.Config().Migrate, true)
			}},
		{"code string replaces DATABASE_URL; options beat variables", "", map[string]string{"DATABASE_URL": "postgres://env/db", "GREL_POSTGRES_SCHEMA": "fromenv", "PGUSER": "pguser"},
			[]Option{WithConnString("postgres://code/db?sslmode=disable"), WithSchema("fromcode"), WithMigrate(false)}, func(t *testing.T, p *Provider) {
				check(t, "Host", p.Pool().Config().ConnConfig.Host, "code")
				check(t, "User", p.Pool().Config().ConnConfig.User, "pguser")
				check(t, "Schema", p.Schema(), "fromcode")
				check(t, "Migrate", p.Config().Migrate, false)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newFrom(t, tt.instance, tt.env, tt.opts...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tt.want(t, p)
		})
	}
}

func TestConnectionSettingsErrors(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name     string
		instance string
		env      map[string]string
		want     string
	}{
		{"bad port", "", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h:hunter2/db"}, "grelpostgres: DATABASE_URL: invalid connection settings: a host of the host list"},
		{"unencoded password", "", map[string]string{"DATABASE_URL": "postgres://u:hun/ter2@h/db"}, "grelpostgres: DATABASE_URL: invalid connection settings:"},
		{"unsupported scheme", "", map[string]string{"POSTGRES_URL": "mysql://u:hunter2@h/db"}, "grelpostgres: POSTGRES_URL: invalid connection settings: unsupported scheme"},
		{"bad sslmode", "", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db?sslmode=hunter2"}, "grelpostgres: DATABASE_URL: invalid connection settings: failed to configure TLS"},
		{"bad pool size", "", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db?pool_max_conns=hunter2"}, "grelpostgres: DATABASE_URL: invalid connection settings: cannot parse pool_max_conns"},
		{"bad PGPORT", "", map[string]string{"PGPORT": "hunter2", "PGPASSWORD": "hunter2"}, "grelpostgres: PGPORT, PGPASSWORD: invalid connection settings:"},
		{"bad keyword/value", "", map[string]string{"DATABASE_URL": "host=h password='hunter2"}, "grelpostgres: DATABASE_URL: invalid connection settings:"},
		{"named without its variable", "reports", map[string]string{"DATABASE_URL": "postgres://h/db"}, "grelpostgres: DATABASE_REPORTS_URL: invalid connection settings: not set"},
		{"bad schema", "", map[string]string{"GREL_POSTGRES_SCHEMA": ""}, "GREL_POSTGRES_SCHEMA (Schema): must be a PostgreSQL identifier"},
		{"bad migrate", "x", map[string]string{"GREL_POSTGRES_X_MIGRATE": "hunter2"}, "GREL_POSTGRES_X_MIGRATE (Migrate): not a valid boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFrom(t, tt.instance, tt.env)
			if err == nil {
				t.Fatal("New accepted bad settings")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q contains a secret", msg)
			}
			if !errors.Is(err, grelconfig.ErrInvalid) {
				t.Errorf("error is not grelconfig.ErrInvalid")
			}
		})
	}
}

func TestDescribeRedactsPasswords(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"DATABASE_URL":  "postgres://u:hunter2@h/db?sslmode=disable",
		"PGPASSWORD":    "hunter2",
		"PGSSLPASSWORD": "hunter2",
		"PGAPPNAME":     "svc",
	}))
	p, err := New("", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	got := map[string]string{}
	for _, e := range reg.Describe() {
		if strings.Contains(e.Value, "hunter2") || strings.Contains(e.Default, "hunter2") {
			t.Errorf("describe shows a password: %+v", e)
		}
		got[e.Variable] = e.Value
	}
	for _, v := range []string{"DATABASE_URL", "POSTGRES_URL", "PGHOST", "PGPASSWORD", "PGSSLPASSWORD", "PGAPPNAME", "GREL_POSTGRES_SCHEMA", "GREL_POSTGRES_MIGRATE"} {
		if _, ok := got[v]; !ok {
			t.Errorf("describe does not list %s", v)
		}
	}
	if _, ok := got["PGTZ"]; ok {
		t.Error("describe lists PGTZ, which is not set")
	}
	if got["DATABASE_URL"] != "postgres://u:xxxxx@h/db?sslmode=disable" {
		t.Errorf("DATABASE_URL shown as %q", got["DATABASE_URL"])
	}
}

func TestRedactConnString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:hunter2@h:5432/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require"},
		{"postgresql://u@h/db", "postgresql://u@h/db"},
		{"postgres://u:a@b@h1,h2/db?password=hunter2&sslpassword=x", "postgres://u:xxxxx@h1,h2/db?password=xxxxx&sslpassword=xxxxx"},
		{"postgres://u:hun/ter@h/db", "postgres://xxxxx"},
		{"host=h password=hunter2 user=u", "host=h password=xxxxx user=u"},
		{"host=h password='hun ter2' sslpassword = x", "host=h password=xxxxx sslpassword = xxxxx"},
	}
	for _, tt := range tests {
		if got := RedactConnString(tt.in); got != tt.want {
			t.Errorf("RedactConnString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Schema: "ok", Migrate: true}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{Schema: strings.Repeat("x", 64)}).Validate(); !errors.Is(err, grelconfig.ErrInvalid) {
		t.Fatalf("Validate(64-byte schema) = %v", err)
	}
}

func FuzzConnString(f *testing.F) {
	f.Add("postgres", "h:5432/db?sslmode=disable")
	f.Add("postgresql", "h1,h2:1/db?pool_max_conns=x")
	f.Add("", "host=h port=x")
	f.Fuzz(func(t *testing.T, scheme, rest string) {
		const mark = "S3cretMark"
		raw := scheme + "://u:" + mark + "@" + rest
		if scheme == "" {
			raw = rest + " password=" + mark
		}
		reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"DATABASE_URL": raw}))
		conn, vars, err := vendorSettings(reg, "", "", false)
		if err == nil {
			_, err = parsePoolConfig(conn, vars)
		}
		if err != nil && strings.Contains(err.Error(), mark) {
			t.Fatalf("error leaks the password: %v", err)
		}
		if strings.Contains(RedactConnString(raw), mark) {
			t.Fatalf("RedactConnString leaks the password: %q", RedactConnString(raw))
		}
	})
}

func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
