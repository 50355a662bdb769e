package grelbulkhead_test

import (
	"context"
	"errors"
	"fmt"

	grelbulkhead "github.com/grelmicro/grelmicro-go/patterns/bulkhead"
)

func ExampleBulkhead_Execute() {
	b, _ := grelbulkhead.NewFromConfig("reports", grelbulkhead.Config{MaxConcurrent: 1})
	ctx := context.Background()
	err := b.Execute(ctx, func(ctx context.Context) error {
		// While this call holds the only slot, another is refused.
		inner := b.Execute(ctx, func(context.Context) error { return nil })
		fmt.Println(errors.Is(inner, grelbulkhead.ErrBulkheadFull), inner)
		return nil
	})
	fmt.Println(err, b.InFlight())
	// Output:
	// true grelbulkhead: reports: full
	// <nil> 0
}
