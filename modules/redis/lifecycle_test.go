package grelredis

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

// Ready answers ErrNotStarted before Start, ErrStopped after Stop; Start
// after Stop is refused.
func TestLifecycleStates(t *testing.T) {
	env := testenv.Redis(t)
	p, err := New("", WithURL(env.URL))
	if err != nil {
		t.Fatal(err)
	}
	providertest.RequireLifecycle(t, p, ErrNotStarted, ErrStopped)
}

// A name that health check names refuse fails at New, Wrap and Named, with
// grelredis's error.
func TestRefusesBadName(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"REDIS_EU_WEST_URL": DefaultURL}))
	providertest.RefusesBadName(t, "grelredis", func(name string) error {
		p, err := New(name, WithRegistry(reg))
		if err == nil {
			_ = p.Stop(context.Background())
		}
		return err
	}, func(name string) fx.Option { return fx.Options(fx.Supply(reg), Named(name)) })
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := Wrap(providertest.BadName, client); !errors.Is(err, grelconfig.ErrInvalidName) {
		t.Errorf("Wrap = %v, want ErrInvalidName", err)
	}
}
