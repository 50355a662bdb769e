package grelpostgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest/observer"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestModuleDefaultAndNamed(t *testing.T) {
	env := testenv.Postgres(t)
	other := env.Schema + "_reports"
	t.Cleanup(func() {
		db := pool(t, env.BaseURL)
		_, _ = db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{other}.Sanitize()+" CASCADE")
	})
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"DATABASE_URL":                 env.URL,
		"DATABASE_REPORTS_URL":         env.URL,
		"GREL_POSTGRES_SCHEMA":         env.Schema,
		"GREL_POSTGRES_REPORTS_SCHEMA": other,
	}))
	var g struct {
		fx.In
		Default   *pgxpool.Pool
		Reports   *pgxpool.Pool `name:"reports"`
		Provider  *Provider
		Instances []Instance         `group:"grel.postgres.instances"`
		Checks    []grelhealth.Check `group:"grel.health.checks"`
	}
	app := fxtest.New(t, fx.NopLogger, fx.Supply(reg),
		Module, Named("reports"),
		Migrations(Migration{Name: "m_0001", SQL: "CREATE TABLE {{schema}}.grel_things (n int)"}),
		Migrations(Migration{Name: "m_0002", SQL: "INSERT INTO {{schema}}.grel_things VALUES (1)"}),
		fx.Populate(&g))
	app.RequireStart()
	if g.Default == nil || g.Reports == nil || g.Default == g.Reports || g.Provider.Pool() != g.Default {
		t.Fatal("default and named pools must both resolve and differ")
	}
	schemas := map[string]string{}
	for _, in := range g.Instances {
		schemas[in.Name] = in.Schema
	}
	if schemas[""] != env.Schema || schemas["reports"] != other || len(schemas) != 2 {
		t.Fatalf("instances = %v", schemas)
	}
	// Both schemas were migrated at start.
	for _, s := range []string{env.Schema, other} {
		var n int
		if err := g.Default.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{s}.Sanitize()+".grel_things").Scan(&n); err != nil || n != 1 {
			t.Errorf("schema %s: %d rows, %v", s, n, err)
		}
	}
	providertest.RequireChecks(t, g.Checks, "postgres", "postgres:reports")
	app.RequireStop()
	if err := g.Default.Ping(context.Background()); err == nil {
		t.Error("the default pool is open after stop")
	}
}

func TestModuleFromPool(t *testing.T) {
	env := testenv.Postgres(t)
	mine := pool(t, env.URL)
	var got *pgxpool.Pool
	app := fxtest.New(t, fx.NopLogger, FromPool("", mine, WithSchema(env.Schema)), fx.Populate(&got))
	app.RequireStart()
	app.RequireStop()
	if got != mine {
		t.Fatal("FromPool does not provide the app's pool")
	}
	if err := mine.Ping(context.Background()); err != nil {
		t.Fatalf("the app's pool was closed: %v", err)
	}
}

func TestModuleDownAtStart(t *testing.T) {
	addr := providertest.SilentServer(t)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"DATABASE_URL": "postgres://u:hunter2@" + addr + "/db?sslmode=disable"}))
	providertest.ModuleDownAtStart(t, ErrUnavailable, "hunter2", addr, fx.Supply(reg), Module)
}

func TestModuleConfigError(t *testing.T) {
	app := fx.New(fx.NopLogger, fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))), Named("audit"))
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "DATABASE_AUDIT_URL") {
		t.Fatalf("fx.New error = %v, want one naming DATABASE_AUDIT_URL", err)
	}
}

// With fxgrel.Module the provider reads its settings through the app's
// registry, logs through the app's logger and traces through its tracer.
func TestModuleWithFxgrel(t *testing.T) {
	env := testenv.Postgres(t)
	var g struct {
		fx.In
		Pool     *pgxpool.Pool
		Registry *grelconfig.Registry
		Logs     *observer.ObservedLogs
		Spans    *tracetest.SpanRecorder
		Tracer   trace.TracerProvider
	}
	fxgreltest.Start(t, map[string]string{"DATABASE_URL": env.URL, "GREL_POSTGRES_SCHEMA": env.Schema}, Module,
		Migrations(Migration{Name: "fx_0001", SQL: "CREATE TABLE {{schema}}.grel_fx (n int)"}),
		fx.Populate(&g))
	ctx, span := g.Tracer.Tracer("test").Start(context.Background(), "request")
	_, err := g.Pool.Exec(ctx, "INSERT INTO grel_fx VALUES (1)")
	span.End()
	if err != nil {
		t.Fatalf("the migration of the group did not run: %v", err)
	}
	if len(g.Logs.FilterMessage("postgres connected").All()) != 1 {
		t.Errorf("no connect log; logs: %v", g.Logs.All())
	}
	var traced bool
	for _, s := range g.Spans.Ended() {
		traced = traced || (s.Parent().SpanID() == span.SpanContext().SpanID() && s.Parent().IsValid())
	}
	if !traced {
		t.Error("the app's tracer provider did not trace the query")
	}
	var described []string
	for _, e := range g.Registry.Describe() {
		if e.Kind == Kind {
			described = append(described, e.Variable)
		}
	}
	if !slices.Contains(described, "DATABASE_URL") || !slices.Contains(described, "GREL_POSTGRES_SCHEMA") {
		t.Errorf("describe lists %v", described)
	}
}
