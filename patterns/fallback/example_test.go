package grelfallback_test

import (
	"context"
	"errors"
	"fmt"

	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
)

func ExampleValue() {
	f := grelfallback.Value([]string{"bestsellers"})
	recs, err := f.Execute(context.Background(), func(context.Context) ([]string, error) {
		return nil, errors.New("recommender down")
	})
	fmt.Println(recs, err)
	// Output: [bestsellers] <nil>
}

func ExampleFunc() {
	f := grelfallback.Func(func(_ context.Context, err error) (string, error) {
		return "degraded (" + err.Error() + ")", nil
	})
	s, _ := f.Execute(context.Background(), func(context.Context) (string, error) { return "", errors.New("timeout") })
	fmt.Println(s)
	// Output: degraded (timeout)
}
