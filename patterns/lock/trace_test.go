package grellock_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	grellock "github.com/grelmicro/grelmicro-go/patterns/lock"
)

// Each backend call is a span named grel.<pattern>.<op> with the standard
// attributes; a refused acquisition is not an error.
func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	m := grellock.NewMemory()
	l, err := grellock.New("cart", m, noEnv, grellock.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, _ := l.TryAcquire(ctx)
	_ = h.Extend(ctx)
	other, _ := grellock.New("cart", m, noEnv, grellock.WithTracerProvider(tp))
	_, _ = other.TryAcquire(ctx)
	_ = h.Release(ctx)
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["grel.pattern"] != "lock" || attrs["grel.name"] != "cart" || attrs["grel.backend"] != "memory" {
			t.Errorf("span %s attributes %v", s.Name(), attrs)
		}
		if s.Status().Code != 0 {
			t.Errorf("span %s status %v: a refused acquisition is not an error", s.Name(), s.Status())
		}
	}
	want := []string{"grel.lock.acquire", "grel.lock.extend", "grel.lock.acquire", "grel.lock.release"}
	if len(names) != len(want) {
		t.Fatalf("spans %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("spans %v, want %v", names, want)
		}
	}
}
