package provider

import (
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// Options are the code options every provider has; each package embeds
// them in its own options and keeps its exported With... functions.
type Options struct {
	// Registry is where variables are read and recorded for describe; nil
	// until WithRegistry gives one (see [Options.RegistryOrEnv]).
	Registry *grelconfig.Registry
	// Log is the app's logger, silent by default.
	Log *zap.Logger
	// NonCritical makes the readiness check non-critical.
	NonCritical bool
}

// Defaults returns the options with nothing given: no registry, a silent
// logger, a critical check.
func Defaults() Options { return Options{Log: zap.NewNop()} }

// Apply applies opts to o in order, skipping nil ones.
func Apply[O any, F ~func(*O)](o *O, opts []F) {
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
}

// SetRegistry sets the registry; nil keeps the one set before.
func (o *Options) SetRegistry(reg *grelconfig.Registry) {
	if reg != nil {
		o.Registry = reg
	}
}

// SetLogger sets the logger; nil keeps the one set before.
func (o *Options) SetLogger(l *zap.Logger) {
	if l != nil {
		o.Log = l
	}
}

// RegistryOrEnv returns the registry, or a new one over the process
// environment (read now, at construction) when none was given.
func (o *Options) RegistryOrEnv() *grelconfig.Registry {
	if o.Registry != nil {
		return o.Registry
	}
	return grelconfig.NewRegistry(grelconfig.Env())
}

// InstanceLog returns the logger of one provider instance: the backend
// ("redis") and the instance name as fields.
func (o *Options) InstanceLog(backend, name string) *zap.Logger {
	return o.Log.With(zap.String(grellog.FieldBackend, backend), zap.String(grellog.FieldName, name))
}
