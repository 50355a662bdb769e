package grelpostgres_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelpostgres "github.com/grelmicro/grelmicro-go/modules/postgres"
)

func ExampleNew() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"DATABASE_URL":         "postgres://app@db.internal:5432/orders?sslmode=disable",
		"PGPASSWORD":           "secret", // libpq's variable fills what the URL leaves out
		"GREL_POSTGRES_SCHEMA": "grelmicro",
	}))
	p, err := grelpostgres.New("", grelpostgres.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	fmt.Println(p.Addr(), p.Schema(), p.Config().Migrate, p.HealthCheck().Name)
	// Output: postgres://app@db.internal:5432/orders grelmicro true postgres
}

func ExampleWrap() {
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1:5432/orders?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer pool.Close() // the app owns it: the provider never closes it
	p, err := grelpostgres.Wrap("", pool, grelpostgres.WithSchema("grelmicro"))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Owned(), p.Instance().Schema)
	// Output: false grelmicro
}

func ExampleRedactConnString() {
	fmt.Println(grelpostgres.RedactConnString("postgres://app:secret@db:5432/orders?sslmode=require"))
	fmt.Println(grelpostgres.RedactConnString("host=db user=app password=secret"))
	// Output:
	// postgres://app:xxxxx@db:5432/orders?sslmode=require
	// host=db user=app password=xxxxx
}

func ExampleURLVariables() {
	fmt.Println(grelpostgres.URLVariables(""))
	fmt.Println(grelpostgres.URLVariables("reports"))
	// Output:
	// [DATABASE_URL POSTGRES_URL] <nil>
	// [DATABASE_REPORTS_URL POSTGRES_REPORTS_URL] <nil>
}

// An adapter contributes its table; the provider creates it at start in the
// instance's schema.
func ExampleMigrations() {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(map[string]string{"DATABASE_URL": "postgres://db/app"}))),
		grelpostgres.Module,
		grelpostgres.Migrations(grelpostgres.Migration{
			Name: "example_0001_items",
			SQL:  "CREATE TABLE IF NOT EXISTS {{schema}}.grel_example_items (key text PRIMARY KEY)",
		}),
	}
	fmt.Println(fx.ValidateApp(opts...))
	// Output: <nil>
}

// Migrate is also a plain call, for apps that set GREL_POSTGRES_MIGRATE=false
// and run their migrations as a deploy step.
func ExampleMigrate() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@db.internal/orders")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	err = grelpostgres.Migrate(ctx, pool, "grelmicro", grelpostgres.Migration{
		Name: "app_0001_jobs",
		SQL:  "CREATE TABLE {{schema}}.jobs (id bigserial PRIMARY KEY)",
	})
	if err != nil {
		fmt.Println(err)
	}
}
