package grelbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	grelbreaker "github.com/grelmicro/grelmicro-go/patterns/breaker"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestGroup(t *testing.T) {
	var mu sync.Mutex
	var events []grelbreaker.Event
	g, err := grelbreaker.NewGroup("hosts", nil, noEnv(), grelbreaker.WithFailureThreshold(1), grelbreaker.WithMaxKeys(32),
		grelbreaker.WithOnStateChange(func(ev grelbreaker.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if first, again := g.Get("a"), g.Get("a"); first != again {
		t.Fatal("Get returned two breakers for one key")
	}
	_ = g.Execute(ctx, "a", fail)
	if err := g.Execute(ctx, "a", ok); !errors.Is(err, grelbreaker.ErrOpen) {
		t.Fatalf("a: %v", err)
	}
	var oe *grelbreaker.OpenError
	if err := g.Execute(ctx, "a", ok); !errors.As(err, &oe) || oe.Key != "a" || oe.Name != "hosts" {
		t.Fatalf("OpenError %+v", oe)
	}
	if err := g.Execute(ctx, "b", ok); err != nil {
		t.Fatalf("b shares a's state: %v", err)
	}
	if len(events) != 1 || events[0].Key != "a" || events[0].Name != "hosts" || events[0].To != grelbreaker.StateOpen {
		t.Fatalf("events %+v", events)
	}
	// Reconfigure reaches every breaker of the group at its next call.
	cfg := g.Config()
	cfg.FailureThreshold = 2
	if err := g.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	_ = g.Execute(ctx, "b", fail)
	if g.Get("b").State() != grelbreaker.StateClosed {
		t.Fatal("the new threshold did not reach b")
	}
}

func TestGroupBounded(t *testing.T) {
	g, err := grelbreaker.NewGroup("hosts", nil, noEnv(), grelbreaker.WithFailureThreshold(1), grelbreaker.WithMaxKeys(10))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = g.Execute(ctx, "first", fail)
	for i := range 100 {
		_ = g.Execute(ctx, fmt.Sprint("k", i), ok)
		if g.Len() > 10 {
			t.Fatalf("%d breakers kept, bound 10", g.Len())
		}
	}
	// "first" was the least recently used: dropped, with its state.
	if err := g.Execute(ctx, "first", ok); err != nil {
		t.Fatalf("dropped breaker kept its open state: %v", err)
	}
	// A recently used key survives.
	_ = g.Execute(ctx, "hot", fail)
	for i := range 5 {
		_ = g.Execute(ctx, fmt.Sprint("x", i), ok)
		_ = g.Execute(ctx, "hot", ok) // refused, but used
	}
	if g.Get("hot").State() != grelbreaker.StateOpen {
		t.Fatal("a recently used breaker was dropped")
	}
	cfg := g.Config()
	cfg.MaxKeys = 3
	if err := g.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if g.Len() != 3 {
		t.Fatalf("Len %d after lowering MaxKeys to 3", g.Len())
	}
}

func TestGroupMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	g, err := grelbreaker.NewGroup("hosts", nil, noEnv(), grelbreaker.WithFailureThreshold(1), grelbreaker.WithMaxKeys(2), grelbreaker.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Stop(context.Background()) }()
	ctx := context.Background()
	_ = g.Execute(ctx, "a", fail)
	_ = g.Execute(ctx, "b", ok)
	_ = g.Execute(ctx, "c", ok) // drops a; its counts stay in the totals
	got := callsByOutcome(t, reader)
	if got["success"] != 2 || got["failure"] != 1 {
		t.Fatalf("calls %v", got)
	}
	keys, _ := collect(t, reader)["grel.breaker.keys"].(metricdata.Gauge[int64])
	byState := map[string]int64{}
	for _, dp := range keys.DataPoints {
		byState[attr(dp.Attributes, "state")] = dp.Value
	}
	if byState["closed"] != 2 || byState["open"] != 0 {
		t.Fatalf("keys by state %v", byState)
	}
}

func TestGroupConcurrent(t *testing.T) {
	g, err := grelbreaker.NewGroup("hosts", nil, noEnv(), grelbreaker.WithMaxKeys(50))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				_ = g.Execute(context.Background(), fmt.Sprint((i*7+w)%120), ok)
			}
		})
	}
	wg.Wait()
	if g.Len() > 50 {
		t.Fatalf("Len %d", g.Len())
	}
}
