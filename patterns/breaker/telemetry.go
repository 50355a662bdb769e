package grelbreaker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// MeterName is the OpenTelemetry meter (and tracer) name of this package.
const MeterName = "github.com/grelmicro/grelmicro-go/patterns/breaker"

// telemetry holds a breaker's (or a group's) instruments. The per-call
// numbers are observed at collection from the breaker's own counters, so a
// call pays nothing for metrics. A nil *telemetry is a no-op.
type telemetry struct {
	reg         metric.Registration
	transitions metric.Int64Counter
	storeErrors metric.Int64Counter
	base        []attribute.KeyValue
}

type instruments struct {
	state, calls, slow, degraded, keys metric.Int64Observable
	transitions, storeErrors           metric.Int64Counter
}

func newInstruments(m metric.Meter, group bool) (instruments, []metric.Observable, error) {
	var in instruments
	var err error
	var obs []metric.Observable
	if group {
		g, e := m.Int64ObservableGauge("grel.breaker.keys", metric.WithDescription("breakers of a group, by state"))
		in.keys, err = g, e
		obs = append(obs, g)
	} else {
		g, e := m.Int64ObservableGauge("grel.breaker.state", metric.WithDescription("breaker state: 0 closed, 1 open, 2 half-open, 3 forced-open"))
		in.state, err = g, e
		obs = append(obs, g)
		if err == nil {
			d, e := m.Int64ObservableGauge("grel.breaker.degraded", metric.WithDescription("1 while the breaker decides on local state because its shared store is unavailable"))
			in.degraded, err = d, e
			obs = append(obs, d)
		}
	}
	if err != nil {
		return in, nil, err
	}
	c, err := m.Int64ObservableCounter("grel.breaker.calls", metric.WithDescription("calls by outcome: success, failure, ignored, rejected"))
	if err != nil {
		return in, nil, err
	}
	s, err := m.Int64ObservableCounter("grel.breaker.slow_calls", metric.WithDescription("calls that took at least SlowCallDuration"))
	if err != nil {
		return in, nil, err
	}
	in.calls, in.slow = c, s
	obs = append(obs, c, s)
	if in.transitions, err = m.Int64Counter("grel.breaker.transitions", metric.WithDescription("state changes")); err != nil {
		return in, nil, err
	}
	if in.storeErrors, err = m.Int64Counter("grel.breaker.store_errors", metric.WithDescription("failed operations on the shared store")); err != nil {
		return in, nil, err
	}
	return in, obs, nil
}

func isNoopMeter(mp metric.MeterProvider) bool {
	if mp == nil {
		return true
	}
	_, ok := mp.(metricnoop.MeterProvider)
	return ok
}

func outcomeSets(base []attribute.KeyValue) (succ, fail, ign, rej metric.ObserveOption) {
	mk := func(o string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue{}, base...), attribute.String("outcome", o))...))
	}
	return mk("success"), mk("failure"), mk("ignored"), mk("rejected")
}

func observeTotals(o metric.Observer, in instruments, t totals, succ, fail, ign, rej, plain metric.ObserveOption) {
	o.ObserveInt64(in.calls, t.succ, succ)
	o.ObserveInt64(in.calls, t.fail, fail)
	o.ObserveInt64(in.calls, t.ignored, ign)
	o.ObserveInt64(in.calls, t.rejected, rej)
	o.ObserveInt64(in.slow, t.slow, plain)
}

func newBreakerTelemetry(mp metric.MeterProvider, b *Breaker) (*telemetry, error) {
	if isNoopMeter(mp) {
		return nil, nil
	}
	in, obs, err := newInstruments(mp.Meter(MeterName), false)
	if err != nil {
		return nil, err
	}
	base := []attribute.KeyValue{attribute.String("grel.name", b.name), attribute.String("grel.backend", b.backendDesc)}
	plain := metric.WithAttributeSet(attribute.NewSet(base...))
	succ, fail, ign, rej := outcomeSets(base)
	reg, err := mp.Meter(MeterName).RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(in.state, int64(b.peekState()), plain)
		deg := int64(0)
		if b.degraded.Load() {
			deg = 1
		}
		o.ObserveInt64(in.degraded, deg, plain)
		observeTotals(o, in, b.totals(), succ, fail, ign, rej, plain)
		return nil
	}, obs...)
	if err != nil {
		return nil, err
	}
	return &telemetry{reg: reg, transitions: in.transitions, storeErrors: in.storeErrors, base: base}, nil
}

func newGroupTelemetry(mp metric.MeterProvider, g *Group) (*telemetry, error) {
	if isNoopMeter(mp) {
		return nil, nil
	}
	in, obs, err := newInstruments(mp.Meter(MeterName), true)
	if err != nil {
		return nil, err
	}
	base := []attribute.KeyValue{attribute.String("grel.name", g.name), attribute.String("grel.backend", g.backendDesc)}
	plain := metric.WithAttributeSet(attribute.NewSet(base...))
	succ, fail, ign, rej := outcomeSets(base)
	var byState [4]metric.ObserveOption
	for s := StateClosed; s <= StateForcedOpen; s++ {
		byState[s] = metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue{}, base...), attribute.String("state", s.String()))...))
	}
	reg, err := mp.Meter(MeterName).RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t, states := g.observe()
		for s := range states {
			o.ObserveInt64(in.keys, states[s], byState[s])
		}
		observeTotals(o, in, t, succ, fail, ign, rej, plain)
		return nil
	}, obs...)
	if err != nil {
		return nil, err
	}
	return &telemetry{reg: reg, transitions: in.transitions, storeErrors: in.storeErrors, base: base}, nil
}

func (t *telemetry) transition(from, to State) {
	if t == nil {
		return
	}
	t.transitions.Add(context.Background(), 1, metric.WithAttributes(append(append([]attribute.KeyValue{}, t.base...),
		attribute.String("from", from.String()), attribute.String("to", to.String()))...))
}

func (t *telemetry) storeError(op string) {
	if t == nil {
		return
	}
	t.storeErrors.Add(context.Background(), 1, metric.WithAttributes(append(append([]attribute.KeyValue{}, t.base...), attribute.String("op", op))...))
}

func (t *telemetry) stop() error {
	if t == nil {
		return nil
	}
	return t.reg.Unregister()
}
