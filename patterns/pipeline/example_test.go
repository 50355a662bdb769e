package grelpipeline_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	grelfallback "github.com/grelmicro/grelmicro-go/patterns/fallback"
	grelpipeline "github.com/grelmicro/grelmicro-go/patterns/pipeline"
	grelretry "github.com/grelmicro/grelmicro-go/patterns/retry"
	greltimeout "github.com/grelmicro/grelmicro-go/patterns/timeout"
)

func Example() {
	retry, _ := grelretry.NewFromConfig("quotes", grelretry.DefaultConfig(), grelretry.WithInitialDelay(time.Millisecond))
	breaker, _ := grelbreaker.NewFromConfig("quotes", nil, grelbreaker.DefaultConfig())
	timeout, _ := greltimeout.NewFromConfig("quotes", greltimeout.Config{Duration: time.Second})
	p, err := grelpipeline.New[string](
		grelpipeline.WithRetry(retry),
		grelpipeline.WithBreaker(breaker),
		grelpipeline.WithTimeout(timeout),
		grelpipeline.WithFallback(grelfallback.Value("last known quote")),
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Order())
	q, err := p.Execute(context.Background(), func(context.Context) (string, error) {
		return "", errors.New("quote service unavailable")
	})
	fmt.Println(q, err)
	// Output:
	// [fallback retry breaker timeout]
	// last known quote <nil>
}
