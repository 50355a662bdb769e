package grelbreaker_test

import (
	"context"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
)

func BenchmarkExecuteClosed(b *testing.B) {
	for _, algo := range []grelbreaker.Algorithm{grelbreaker.ConsecutiveFailures, grelbreaker.CountWindow, grelbreaker.TimeWindow} {
		b.Run(string(algo), func(b *testing.B) {
			br, err := grelbreaker.New("bench", nil, grelbreaker.WithAlgorithm(algo),
				grelbreaker.WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			fn := func(context.Context) error { return nil }
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = br.Execute(ctx, fn)
				}
			})
		})
	}
}
