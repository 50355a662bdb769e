package grelsqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelsqlite "github.com/grelmicro/grelmicro-go/modules/sqlite"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "grelsqlite-example")
	defer os.RemoveAll(dir)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_SQLITE_PATH": filepath.Join(dir, "app.db"),
	}))
	p, err := grelsqlite.New("", grelsqlite.WithRegistry(reg),
		grelsqlite.WithMigrations(grelsqlite.Migration{
			Name: "example_0001_kv",
			SQL:  "CREATE TABLE {{schema}}.kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
		}))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil { // opens the file, migrates
		panic(err)
	}
	defer func() { _ = p.Stop(ctx) }()

	err = p.DB().Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO kv VALUES ('greeting', 'hello')")
		return err
	})
	var v string
	_ = p.DB().QueryRowContext(ctx, "SELECT v FROM kv WHERE k = 'greeting'").Scan(&v)
	fmt.Println(err, v, filepath.Base(p.Path()), p.HealthCheck().Name)
	// Output: <nil> hello app.db sqlite
}

func ExampleDB_Write() {
	dir, _ := os.MkdirTemp("", "grelsqlite-example")
	defer os.RemoveAll(dir)
	cfg := grelsqlite.DefaultConfig()
	cfg.Path = filepath.Join(dir, "counter.db")
	db, err := grelsqlite.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	_ = grelsqlite.Migrate(ctx, db, "", grelsqlite.Migration{
		Name: "counter_0001", SQL: "CREATE TABLE {{schema}}.counter (n INTEGER NOT NULL); INSERT INTO {{schema}}.counter VALUES (0)",
	})
	// Other processes may write the same file: Write waits for them
	// instead of failing with "database is locked".
	for range 3 {
		err = db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE counter SET n = n + 1")
			return err
		})
	}
	var n int
	_ = db.Read(ctx, func(tx *sql.Tx) error { return tx.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n) })
	fmt.Println(err, n)
	// Output: <nil> 3
}

func ExampleDSN() {
	fmt.Println(grelsqlite.DSN(grelsqlite.DefaultConfig()))
	// Output: grelmicro.db?_pragma=busy_timeout%28200%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate
}

func ExampleMigrations() {
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(grelconfig.NewRegistry(grelconfig.Map(nil))),
		grelsqlite.Module, // ./grelmicro.db unless GREL_SQLITE_PATH says otherwise
		grelsqlite.Migrations(grelsqlite.Migration{
			Name: "example_0001_items",
			SQL:  "CREATE TABLE IF NOT EXISTS {{schema}}.grel_example_items (key TEXT PRIMARY KEY)",
		}),
	}
	fmt.Println(fx.ValidateApp(opts...))
	// Output: <nil>
}

func ExampleWrap() {
	dir, _ := os.MkdirTemp("", "grelsqlite-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	// A database the app opened itself, with the pragmas grelsqlite uses.
	cfg := grelsqlite.DefaultConfig()
	cfg.Path = path
	sqlDB, err := sql.Open(grelsqlite.DriverName, grelsqlite.DSN(cfg))
	if err != nil {
		panic(err)
	}
	defer sqlDB.Close() // the app owns it: the provider never closes it
	p, err := grelsqlite.Wrap("", grelsqlite.WrapDB(sqlDB, path, cfg.BusyTimeout))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Owned(), filepath.Base(p.Instance().Path))
	// Output: false app.db
}
