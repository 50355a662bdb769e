package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/fx"

	"github.com/grelmicro/grelmicro-go/fxgrel/fxgreltest"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// TestStopBudget: the stop timeout is the sum of its parts, read from the
// graph: the drain delay, the HTTP shutdown, the telemetry flush when
// telemetry is exported, and grelhealth.DrainReserve; 5s on the defaults.
func TestStopBudget(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"defaults", nil, 5 * time.Second},
		{"drain delay", map[string]string{"GREL_HEALTH_DRAIN_DELAY": "6s"}, 11 * time.Second},
		{"shorter http shutdown", map[string]string{"GREL_HEALTH_DRAIN_DELAY": "10", "GREL_HTTP_SHUTDOWN_TIMEOUT": "1s"}, 13 * time.Second},
		{"exported traces flush", map[string]string{"OTEL_TRACES_EXPORTER": "console", "GREL_TRACE_SHUTDOWN_TIMEOUT": "4s"}, 9 * time.Second},
		{"exported metrics flush", map[string]string{"OTEL_METRICS_EXPORTER": "console"}, 10 * time.Second},
		{"SDK disabled: nothing to flush", map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, 5 * time.Second},
		{"trace timeout alone counts nothing", map[string]string{"GREL_TRACE_SHUTDOWN_TIMEOUT": "30s"}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GREL_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range tt.env {
				env[k] = v
			}
			var p parts
			opts := append([]fx.Option{serverModule, fx.Invoke(func(in parts) { p = in })}, patterns...)
			fxgreltest.New(t, env, opts...) // built, not started: the budget is known after fx.New
			if got := p.stopBudget(); got != tt.want {
				t.Errorf("stop budget %v, want %v", got, tt.want)
			}
		})
	}
	if got := stopBudget(0, 3*time.Second, greltrace.DefaultConfig()); got != 5*time.Second {
		t.Errorf("stopBudget on the defaults = %v, want 5s", got)
	}
}

// TestShutdownBound: the server's shutdown leaves the later hooks
// min(half the time left, grelhealth.DrainReserve), as the drain does.
func TestShutdownBound(t *testing.T) {
	tests := []struct {
		left time.Duration // 0: no deadline
		want time.Duration
		out  time.Duration
	}{
		{0, 3 * time.Second, 3 * time.Second},
		{5 * time.Second, 3 * time.Second, 3 * time.Second},
		{4 * time.Second, 3 * time.Second, 2 * time.Second},
		{time.Second, 3 * time.Second, 500 * time.Millisecond},
		{time.Second, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context()
			if tt.left > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.left)
				defer cancel()
			}
			if got := shutdownBound(ctx, tt.want); got != tt.out {
				t.Errorf("%v left, %v wanted: bound %v, want %v", tt.left, tt.want, got, tt.out)
			}
		})
	}
	if grelhealth.DrainReserve != 2*time.Second {
		t.Fatalf("DrainReserve = %v: the rows above and docs/example.md assume 2s", grelhealth.DrainReserve)
	}
}
