package grelretry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelmatch "github.com/grelmicro/grelmicro-go/patterns/match"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
)

func ExampleRetrier_Do() {
	r, err := grelretry.NewFromConfig("payments", grelretry.DefaultConfig(),
		grelretry.WithInitialDelay(time.Millisecond), grelretry.WithMaxAttempts(5))
	if err != nil {
		panic(err)
	}
	attempts := 0
	err = r.Do(context.Background(), func(context.Context) error {
		attempts++
		if attempts < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 3 <nil>
}

func ExampleDoValue() {
	r, _ := grelretry.NewFromConfig("quotes", grelretry.DefaultConfig(),
		grelretry.WithInitialDelay(time.Millisecond),
		// Retry errors, and results that say "try later".
		grelretry.WithRetryIf(grelmatch.Or(grelmatch.AnyError(), grelmatch.Result(func(s string) bool { return s == "busy" }))))
	answers := []string{"busy", "busy", "42"}
	i := 0
	v, err := grelretry.DoValue(context.Background(), r, func(context.Context) (string, error) {
		i++
		return answers[i-1], nil
	})
	fmt.Println(v, err)
	// Output: 42 <nil>
}

func ExampleRetryError() {
	r, _ := grelretry.NewFromConfig("flaky", grelretry.DefaultConfig(),
		grelretry.WithInitialDelay(time.Millisecond), grelretry.WithMaxAttempts(2))
	errDown := errors.New("down")
	err := r.Do(context.Background(), func(context.Context) error { return errDown })
	var re *grelretry.RetryError
	fmt.Println(errors.As(err, &re), re.Attempts, re.Reason, errors.Is(err, errDown))
	// Output: true 2 max attempts true
}

func ExampleNew() {
	// GREL_RETRY_{NAME}_{FIELD} tunes the instance; here from a map instead
	// of the process environment.
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{"GREL_RETRY_PAYMENTS_MAX_ATTEMPTS": "5"}))
	r, err := grelretry.New("payments", grelretry.WithRegistry(reg))
	fmt.Println(r.Config().MaxAttempts, r.Config().Algorithm, err)
	// Output: 5 exponential <nil>
}
