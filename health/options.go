package grelhealth

import (
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// Option configures a [Checker].
type Option func(*options)

type options struct {
	settings  []grelconfig.Setting[Config]
	overrides []func(*Config) // the same settings, for NewFromConfig
	registry  *grelconfig.Registry
	logger    *zap.Logger
	meter     metric.MeterProvider
	listeners []func(StatusChange)
}

func setting[T any](f *grelconfig.Field[Config, T], v T, set func(*Config)) Option {
	return func(o *options) {
		o.settings = append(o.settings, f.Set(v))
		o.overrides = append(o.overrides, set)
	}
}

// WithTimeout sets the default timeout of one run (Config.Timeout).
func WithTimeout(d time.Duration) Option {
	return setting(timeoutField, d, func(c *Config) { c.Timeout = d })
}

// WithTTL sets the default result TTL (Config.TTL).
func WithTTL(d time.Duration) Option {
	return setting(ttlField, d, func(c *Config) { c.TTL = d })
}

// WithDrainDelay sets the wait of Drain (Config.DrainDelay).
func WithDrainDelay(d time.Duration) Option {
	return setting(drainDelayField, d, func(c *Config) { c.DrainDelay = d })
}

// WithInterval sets the period of background runs (Config.Interval).
func WithInterval(d time.Duration) Option {
	return setting(intervalField, d, func(c *Config) { c.Interval = d })
}

// WithRegistry sets where the config is read from and recorded. The default
// is a registry over the process environment.
func WithRegistry(r *grelconfig.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithLogger sets the logger. A check turning to failing is logged at warn
// with the full error (a panic at error, with the stack), each further run
// that still fails at debug with its error, the recovery and draining at
// info, a passing run at debug. The default is zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithMeterProvider emits the checker's metrics: the gauge
// grel.health.status (1 passing, 0 failing, per check, read at collection),
// the counter grel.health.runs and the histogram grel.health.check_duration
// by outcome (pass, fail, timeout, panic), all with the check's name as
// grel.name. A request served from cached results measures nothing. The
// default, and the no-op provider, emit nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
}

// WithStatusListener adds a function called each time a check's status
// changes (including its first result, from StatusUnknown). It is called
// outside every lock of the checker, so it may call the checker, from the
// goroutine that settled the result:
//
//   - the run's own goroutine, when the function returned in time;
//   - the goroutine of the run's timeout (or of Stop), at that moment, while
//     a function that ignores its context may still be running;
//   - the caller's goroutine (Check, Report, Ready, Live, an HTTP request)
//     for a result no run produced: ErrStopped once the checker is stopped.
//     That caller returns after the listeners have.
//
// Calls for one check never overlap; calls for different checks may. The
// next run of that check starts only after every listener has returned, so
// keep listeners short, and do not wait in a listener for a new run of the
// check it is told about.
func WithStatusListener(f func(StatusChange)) Option {
	return func(o *options) {
		if f != nil {
			o.listeners = append(o.listeners, f)
		}
	}
}
