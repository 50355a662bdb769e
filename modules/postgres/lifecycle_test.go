package grelpostgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

// Ready answers ErrNotStarted before Start, ErrStopped after Stop; Start
// after Stop is refused.
func TestLifecycleStates(t *testing.T) {
	env := testenv.Postgres(t)
	p, err := New("", WithConnString(env.URL))
	if err != nil {
		t.Fatal(err)
	}
	providertest.RequireLifecycle(t, p, ErrNotStarted, ErrStopped)
}

// A name that health check names refuse fails at New, Wrap and Named, with
// grelpostgres's error.
func TestRefusesBadName(t *testing.T) {
	const conn = "postgres://u@127.0.0.1:1/db"
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"DATABASE_EU_WEST_URL": conn}))
	providertest.RefusesBadName(t, "grelpostgres", func(name string) error {
		p, err := New(name, WithRegistry(reg))
		if err == nil {
			_ = p.Stop(context.Background())
		}
		return err
	}, func(name string) fx.Option { return fx.Options(fx.Supply(reg), Named(name)) })
	pool, err := pgxpool.New(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := Wrap(providertest.BadName, pool); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("Wrap = %v, want ErrInvalidName", err)
	}
}
