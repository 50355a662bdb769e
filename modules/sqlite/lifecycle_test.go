package grelsqlite

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

// Ready answers ErrNotStarted before Start, ErrStopped after Stop; Start
// after Stop is refused.
func TestLifecycleStates(t *testing.T) {
	p, err := New("", WithPath(testenv.SQLitePath(t)))
	if err != nil {
		t.Fatal(err)
	}
	providertest.RequireLifecycle(t, p, ErrNotStarted, ErrStopped)
}

// A name that health check names refuse fails at New, NewFromConfig, Wrap
// and Named, with grelsqlite's error.
func TestRefusesBadName(t *testing.T) {
	path := testenv.SQLitePath(t)
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_SQLITE_EU_WEST_PATH": path}))
	providertest.RefusesBadName(t, "grelsqlite", func(name string) error {
		p, err := New(name, WithRegistry(reg))
		if err == nil {
			_ = p.Stop(context.Background())
		}
		return err
	}, func(name string) fx.Option { return fx.Options(fx.Supply(reg), Named(name)) })
	if _, err := NewFromConfig(providertest.BadName, spec.Defaults()); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("NewFromConfig = %v, want ErrInvalidName", err)
	}
	cfg := spec.Defaults()
	cfg.Path = path
	db, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Wrap(providertest.BadName, db); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("Wrap = %v, want ErrInvalidName", err)
	}
}
