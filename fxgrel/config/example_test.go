package grelconfig_test

import (
	"fmt"
	"os"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// A pattern's Config and its Spec, declared once next to each other.
type LockConfig struct {
	LeaseDuration time.Duration
	RetryInterval time.Duration
}

var lockSpec = grelconfig.NewSpec[LockConfig]("LOCK")

var leaseDuration = lockSpec.Duration("LEASE_DURATION",
	func(c *LockConfig) *time.Duration { return &c.LeaseDuration }, 30*time.Second,
	grelconfig.Positive[time.Duration]()).Doc("how long a hold lasts without renewal")

var _ = lockSpec.Duration("RETRY_INTERVAL",
	func(c *LockConfig) *time.Duration { return &c.RetryInterval }, 200*time.Millisecond,
	grelconfig.Positive[time.Duration]())

func ExampleSpec_Resolve() {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_LOCK_RETRY_INTERVAL":       "0.5", // every lock: bare seconds
		"GREL_LOCK_CART_LEASE_DURATION":  "1m",  // the cart lock only
		"GREL_LOCK_CART_RETRY_INTERVAL":  "1s",
		"GREL_LOCK_ORDER_LEASE_DURATION": "2m", // another instance
	}))
	cfg, err := lockSpec.Resolve(reg, "cart", leaseDuration.Set(45*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.LeaseDuration, cfg.RetryInterval)
	_ = grelconfig.WriteTable(os.Stdout, reg.Describe())
	// Output:
	// 45s 1s
	// VARIABLE                       TYPE      DEFAULT  VALUE  ORIGIN
	// GREL_LOCK_CART_LEASE_DURATION  duration  30s      45s    option
	// GREL_LOCK_CART_RETRY_INTERVAL  duration  200ms    1s     instance
}

func ExampleSpec_Resolve_error() {
	_, err := lockSpec.ResolveFrom(grelconfig.Map(map[string]string{
		"GREL_LOCK_CART_LEASE_DURATION": "my-secret",
		"GREL_LOCK_RETRY_INTERVAL":      "-1s",
	}), "cart")
	fmt.Println(err)
	// Output:
	// grelconfig: GREL_LOCK_CART_LEASE_DURATION (LeaseDuration): not a valid duration (use Go syntax such as 1m30s, or a number of seconds)
	// grelconfig: GREL_LOCK_RETRY_INTERVAL (RetryInterval): must be greater than 0
}

func ExampleRegistry_Reload() {
	reg := grelconfig.NewRegistry(grelconfig.Map(nil))
	cfg, _ := lockSpec.Resolve(reg, "cart")
	apply := func(c LockConfig) error { cfg = c; return nil }
	reg.Register(lockSpec.Bind("cart", nil, apply))

	err := reg.Reload(grelconfig.Map(map[string]string{"GREL_LOCK_LEASE_DURATION": "10s"}))
	fmt.Println(cfg.LeaseDuration, err)
	err = reg.Reload(grelconfig.Map(map[string]string{"GREL_LOCK_LEASE_DURATION": "0"}))
	fmt.Println(cfg.LeaseDuration, err)
	// Output:
	// 10s <nil>
	// 10s grelconfig: reload LOCK/cart refused: grelconfig: GREL_LOCK_LEASE_DURATION (LeaseDuration): must be greater than 0
}

func ExampleNormalizeName() {
	seg, _ := grelconfig.NormalizeName("checkout-api.v2")
	fmt.Println(grelconfig.InstanceVariable("RATELIMIT", seg, "LIMIT"))
	// Output: GREL_RATELIMIT_CHECKOUT_API_V2_LIMIT
}
