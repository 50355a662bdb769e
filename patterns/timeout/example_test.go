package greltimeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

func ExampleTimeout_Execute() {
	t, _ := greltimeout.NewFromConfig("inventory", greltimeout.Config{Duration: 10 * time.Millisecond})
	err := t.Execute(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // a call that honours its context
		return ctx.Err()
	})
	fmt.Println(errors.Is(err, greltimeout.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	fmt.Println(err)
	// Output:
	// true true
	// greltimeout: inventory: timed out after 10ms: context deadline exceeded
}

func ExampleExecuteValue() {
	t, _ := greltimeout.NewFromConfig("prices", greltimeout.Config{Duration: time.Second})
	price, err := greltimeout.ExecuteValue(context.Background(), t, func(context.Context) (int, error) { return 42, nil })
	fmt.Println(price, err)
	// Output: 42 <nil>
}
