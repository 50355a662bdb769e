package grellock

import (
	"context"
	"errors"
	"time"

	"github.com/grelmicro/grelmicro-go/patterns/internal/metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The metrics of the lock patterns, all with the attributes grel.name and
// grel.backend (see the package documentation).
const (
	// MetricAcquisitions counts the calls of a Lock's TryAcquire, Acquire,
	// AcquireWithin and Do by outcome: acquired, not_acquired (another
	// holder kept it until the call gave up or its context ended), error (a
	// store error, or the Lock is closed) or reentrant.
	MetricAcquisitions = "grel.lock.acquisitions"
	// MetricAcquireWait is the histogram of the time those calls took, in
	// seconds, by the same outcome.
	MetricAcquireWait = "grel.lock.acquire_wait"
	// MetricHoldsLost counts a Lock's holds that ended without a release.
	MetricHoldsLost = "grel.lock.holds_lost"
	// MetricHeld is the gauge of a Lock's holds valid now, read at
	// collection.
	MetricHeld = "grel.lock.held"
	// MetricRuns counts a TaskLock's runs by outcome: ran, failed (the
	// task returned an error), lost (the lock was lost while it ran),
	// skipped (another replica holds it) or error (the store failed, or
	// the TaskLock is closed, or the context already holds it or is done).
	MetricRuns = "grel.tasklock.runs"
	// MetricIsLeader is the gauge of an election, 1 while this candidate
	// leads and 0 otherwise, read at collection from the election's
	// construction on.
	MetricIsLeader = "grel.leaderelection.is_leader"
	// MetricTransitions counts an election's changes of this candidate's
	// state: state leader (a term began), follower (the term was lost) or
	// stopped (it stepped down on stop).
	MetricTransitions = "grel.leaderelection.transitions"
)

// MetricRenewFailures returns the name of the counter of failed extensions
// of a pattern's holds (automatic renewals, Extend, a TaskLock's last
// extension to MinHold), by reason: store_error, or not_held (the store no
// longer has the token: the hold is lost). pattern is "lock", "tasklock" or
// "leaderelection".
func MetricRenewFailures(pattern string) string { return "grel." + pattern + ".renew_failures" }

type acqOutcome uint8

const (
	acqAcquired acqOutcome = iota
	acqNotAcquired
	acqError
	acqReentrant
	acqOutcomes
)

var acqNames = [acqOutcomes]string{"acquired", "not_acquired", "error", "reentrant"}

func acqOutcomeOf(err error) acqOutcome {
	switch {
	case err == nil:
		return acqAcquired
	case errors.Is(err, ErrReentrant):
		return acqReentrant
	case errors.Is(err, ErrNotAcquired), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return acqNotAcquired
	}
	return acqError
}

type runOutcome uint8

const (
	runRan runOutcome = iota
	runFailed
	runLost
	runSkipped
	runError
	runOutcomes
)

var runNames = [runOutcomes]string{"ran", "failed", "lost", "skipped", "error"}

type renewFailure uint8

const (
	renewStoreError renewFailure = iota
	renewNotHeld
	renewFailures
)

var renewNames = [renewFailures]string{"store_error", "not_held"}

// The election's transitions, named like the state field of its logs.
type transition uint8

const (
	toLeader transition = iota
	toFollower
	toStopped
	transitions
)

var transitionNames = [transitions]string{"leader", "follower", "stopped"}

// telemetry holds the instruments of one instance (those of its pattern
// only) and their attribute options, built once. An instance with the
// no-op meter provider has none (nil): its paths pay one nil check.
type telemetry struct {
	meter metric.Meter
	base  []attribute.KeyValue
	plain metrics.Opts

	renew     metric.Int64Counter
	renewOpts [renewFailures][]metric.AddOption

	// Lock
	acquisitions metric.Int64Counter
	acquireWait  metric.Float64Histogram
	acqAdd       [acqOutcomes][]metric.AddOption
	acqRecord    [acqOutcomes][]metric.RecordOption
	holdsLost    metric.Int64Counter // nil for the other patterns

	// TaskLock
	runs    metric.Int64Counter
	runOpts [runOutcomes][]metric.AddOption

	// LeaderElection
	transitions metric.Int64Counter
	transOpts   [transitions][]metric.AddOption

	gauges *metrics.Callback // the callback of the pattern's gauge
}

func newTelemetry(mp metric.MeterProvider, c *core) (*telemetry, error) {
	m := metrics.Meter(mp, tracerName)
	if m == nil {
		return nil, nil
	}
	t := &telemetry{meter: m, base: []attribute.KeyValue{attribute.String("grel.name", c.name), attribute.String("grel.backend", c.kind)}}
	t.plain = metrics.Attrs(t.base)
	var err error
	if t.renew, err = m.Int64Counter(MetricRenewFailures(c.pattern), metric.WithUnit("{renewal}"),
		metric.WithDescription("Failed extensions of a hold, by reason: store_error or not_held")); err != nil {
		return nil, err
	}
	for r := range renewFailures {
		t.renewOpts[r] = t.with("reason", renewNames[r]).Add
	}
	switch c.pattern {
	case "lock":
		err = t.lockInstruments()
	case "tasklock":
		t.runs, err = m.Int64Counter(MetricRuns, metric.WithUnit("{run}"),
			metric.WithDescription("Runs of the task lock, by outcome: ran, failed, lost, skipped or error"))
		for o := range runOutcomes {
			t.runOpts[o] = t.with("outcome", runNames[o]).Add
		}
	case "leaderelection":
		t.transitions, err = m.Int64Counter(MetricTransitions, metric.WithUnit("{transition}"),
			metric.WithDescription("Changes of this candidate's state: leader, follower (lost) or stopped"))
		for s := range transitions {
			t.transOpts[s] = t.with("state", transitionNames[s]).Add
		}
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *telemetry) with(key, value string) metrics.Opts {
	return metrics.Attrs(t.base, attribute.String(key, value))
}

func (t *telemetry) lockInstruments() error {
	var err error
	if t.acquisitions, err = t.meter.Int64Counter(MetricAcquisitions, metric.WithUnit("{acquisition}"),
		metric.WithDescription("Acquisitions of the lock, by outcome: acquired, not_acquired, error or reentrant")); err != nil {
		return err
	}
	if t.acquireWait, err = t.meter.Float64Histogram(MetricAcquireWait, metric.WithUnit("s"),
		metric.WithDescription("Time an acquisition took, waiting included, by outcome"),
		metric.WithExplicitBucketBoundaries(metrics.Seconds...)); err != nil {
		return err
	}
	if t.holdsLost, err = t.meter.Int64Counter(MetricHoldsLost, metric.WithUnit("{hold}"),
		metric.WithDescription("Holds of the lock that ended without a release")); err != nil {
		return err
	}
	for o := range acqOutcomes {
		opts := t.with("outcome", acqNames[o])
		t.acqAdd[o], t.acqRecord[o] = opts.Add, opts.Record
	}
	return nil
}

// observeHeld registers the gauge of l's valid holds.
func (t *telemetry) observeHeld(l *Lock) error {
	g, err := t.meter.Int64ObservableGauge(MetricHeld, metric.WithUnit("{hold}"),
		metric.WithDescription("Holds of the lock valid now"))
	if err != nil {
		return err
	}
	obs := t.plain.Observe
	t.gauges, err = metrics.Observe(t.meter, l, func(l *Lock, o metric.Observer) {
		o.ObserveInt64(g, l.live.held(time.Now()), obs...)
	}, g)
	return err
}

// observeLeader registers the gauge of e's leadership.
func (t *telemetry) observeLeader(e *LeaderElection) error {
	g, err := t.meter.Int64ObservableGauge(MetricIsLeader,
		metric.WithDescription("1 while this candidate leads the election, 0 otherwise"))
	if err != nil {
		return err
	}
	obs := t.plain.Observe
	t.gauges, err = metrics.Observe(t.meter, e, func(e *LeaderElection, o metric.Observer) {
		v := int64(0)
		if e.leading(time.Now()) {
			v = 1
		}
		o.ObserveInt64(g, v, obs...)
	}, g)
	return err
}

// begin returns the start of an acquisition, when it is measured.
func (t *telemetry) begin() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Now()
}

// acquired counts an acquisition that began at begin and returned err.
func (t *telemetry) acquired(ctx context.Context, begin time.Time, err error) {
	if t == nil {
		return
	}
	o := acqOutcomeOf(err)
	t.acquireWait.Record(ctx, time.Since(begin).Seconds(), t.acqRecord[o]...)
	t.acquisitions.Add(ctx, 1, t.acqAdd[o]...)
}

func (t *telemetry) lost() {
	if t != nil && t.holdsLost != nil {
		t.holdsLost.Add(context.Background(), 1, t.plain.Add...)
	}
}

func (t *telemetry) renewFailed(ctx context.Context, r renewFailure) {
	if t != nil {
		t.renew.Add(ctx, 1, t.renewOpts[r]...)
	}
}

func (t *telemetry) ran(ctx context.Context, o runOutcome) {
	if t != nil {
		t.runs.Add(ctx, 1, t.runOpts[o]...)
	}
}

func (t *telemetry) transition(ctx context.Context, s transition) {
	if t != nil {
		t.transitions.Add(ctx, 1, t.transOpts[s]...)
	}
}

func (t *telemetry) stop() error {
	if t == nil {
		return nil
	}
	return t.gauges.Stop()
}
