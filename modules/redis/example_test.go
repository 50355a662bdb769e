package grelredis_test

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelredis "github.com/grelmicro/grelmicro-go/modules/redis"
)

func ExampleParseURL() {
	o, err := grelredis.ParseURL("redis+sentinel://:secret@10.0.0.1,10.0.0.2:26380/mymaster/2?dial_timeout=3")
	if err != nil {
		panic(err)
	}
	fmt.Println(o.Mode, o.Failover.MasterName, o.Failover.SentinelAddrs, o.Failover.DB, o.Failover.DialTimeout)

	_, err = grelredis.ParseURL("redis://:secret@host:port/0")
	fmt.Println(err)
	// Output:
	// sentinel mymaster [10.0.0.1:26379 10.0.0.2:26380] 2 3s
	// grelredis: URL given in code: invalid Redis URL: not a valid URL (a password with reserved characters such as @ : / ? # must be percent-encoded)
}

func ExampleRedactURL() {
	fmt.Println(grelredis.RedactURL("rediss://app:secret@cache.internal:6380/1?pool_size=20"))
	// Output: rediss://app:xxxxx@cache.internal:6380/1?pool_size=20
}

func ExampleNew() {
	// The registry is the config source; an app passes its own (fxgrel does).
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"REDIS_SESSIONS_URL": "redis://:secret@sessions.internal:6379/0",
	}))
	p, err := grelredis.New("sessions", grelredis.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	fmt.Println(p.Addr(), p.Owned(), p.HealthCheck().Name)
	// Output: redis://:xxxxx@sessions.internal:6379/0 true redis:sessions
}

func ExampleWrap() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close() // the app owns it: the provider never closes it
	p, err := grelredis.Wrap("", client)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Addr(), p.Owned())
	// Output: redis://127.0.0.1:6379 false
}

func ExampleURLVariable() {
	for _, name := range []string{"", "cache", "cart-v2"} {
		v, _ := grelredis.URLVariable(name)
		fmt.Println(v)
	}
	// Output:
	// REDIS_URL
	// REDIS_CACHE_URL
	// REDIS_CART_V2_URL
}

func ExampleNamed() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"REDIS_URL":       "redis://127.0.0.1:6379/0",
		"REDIS_CACHE_URL": "redis://127.0.0.1:6379/1",
	}))
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(reg),
		grelredis.Module,         // redis.UniversalClient from REDIS_URL
		grelredis.Named("cache"), // redis.UniversalClient `name:"cache"` from REDIS_CACHE_URL
		fx.Invoke(fx.Annotate(func(def, cache redis.UniversalClient) {
			// both clients, distinct; started (pinged) with the app
		}, fx.ParamTags("", grelredis.Tag("cache")))),
	}
	// fx.New(opts...).Run() would connect, ping, serve and close; here the
	// graph is only checked.
	fmt.Println(fx.ValidateApp(opts...))
	// Output: <nil>
}
