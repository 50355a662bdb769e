package grelsqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

func TestModuleDefaultAndNamed(t *testing.T) {
	dir := filepath.Dir(testenv.SQLitePath(t))
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_SQLITE_PATH":       filepath.Join(dir, "main.db"),
		"GREL_SQLITE_AUDIT_PATH": filepath.Join(dir, "audit.db"),
	}))
	var g struct {
		fx.In
		Default   *DB
		Audit     *DB `name:"audit"`
		Provider  *Provider
		Instances []Instance         `group:"grel.sqlite.instances"`
		Checks    []grelhealth.Check `group:"grel.health.checks"`
	}
	app := fxtest.New(t, fx.NopLogger, fx.Supply(reg), Module, Named("audit"),
		Migrations(Migration{Name: "m_0001", SQL: "CREATE TABLE {{schema}}.grel_things (n INTEGER)"}),
		fx.Populate(&g))
	app.RequireStart()
	if g.Default == nil || g.Audit == nil || g.Default == g.Audit || g.Provider.DB() != g.Default {
		t.Fatal("default and named databases must both resolve and differ")
	}
	paths := map[string]string{}
	for _, in := range g.Instances {
		paths[in.Name] = filepath.Base(in.Path)
	}
	if paths[""] != "main.db" || paths["audit"] != "audit.db" || len(paths) != 2 {
		t.Fatalf("instances = %v", paths)
	}
	for _, db := range []*DB{g.Default, g.Audit} {
		if _, err := db.ExecContext(context.Background(), "INSERT INTO grel_things VALUES (1)"); err != nil {
			t.Errorf("%s not migrated at start: %v", db.Path(), err)
		}
	}
	providertest.RequireChecks(t, g.Checks, "sqlite", "sqlite:audit")
	app.RequireStop()
	if err := g.Default.PingContext(context.Background()); err == nil {
		t.Error("the default database is open after stop")
	}
}

func TestModuleFromDB(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Path = testenv.SQLitePath(t)
	mine, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	var got *DB
	app := fxtest.New(t, fx.NopLogger, FromDB("", mine), fx.Populate(&got))
	app.RequireStart()
	app.RequireStop()
	if got != mine {
		t.Fatal("FromDB does not provide the app's database")
	}
	if err := mine.PingContext(context.Background()); err != nil {
		t.Fatalf("the app's database was closed: %v", err)
	}
}

func TestModuleConfigError(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_SQLITE_JOBS_MAX_OPEN_CONNS": "many"}))
	app := fx.New(fx.NopLogger, fx.Supply(reg), Named("jobs"))
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "GREL_SQLITE_JOBS_MAX_OPEN_CONNS") {
		t.Fatalf("fx.New error = %v", err)
	}
}
