// Package fxgrel is grelmicro's core Fx module. fx.New(fxgrel.Module, ...)
// is all an app needs to start: [Module] provides the config source and the
// *grelconfig.Registry (the reconfigure hub), the zap and slog loggers and
// the Fx event logger (grellog), and the OpenTelemetry tracer and meter
// providers (greltrace), each shut down in order on stop.
//
// # Config source
//
// The base source is the process environment, or the one given with
// [WithSource] (tests pass grelconfig.Map). When GREL_CONFIG_DIR names a
// directory of files named after variables (a mounted ConfigMap or Secret),
// it is layered over the base source, files winning, and watched every
// GREL_CONFIG_WATCH_INTERVAL (default 10s, 0 turns it off): a change reloads
// every live reconfigurable instance through the registry, which logs what
// it applied and what it refused. The watch goroutine belongs to the app's
// lifecycle: it starts on start and is waited for on stop.
//
//	GREL_CONFIG_DIR             directory of variable files, layered over the environment (default none)
//	GREL_CONFIG_WATCH_INTERVAL  poll interval of GREL_CONFIG_DIR, 0 = off (default 10s)
//
// # Describe
//
// [Describe] prints every variable the app's components read: after fx.New
// every constructor has run and resolved its config, so an app's
// --describe flag builds the app, describes, and exits without starting it.
//
// # Guarantees
//
//   - A bad GREL_* or OTEL_* value fails fx.New with an error that names the
//     variable and never contains the value.
//   - Nothing runs before the app starts; every goroutine started on start
//     is waited for on stop.
//
// # Non-guarantees
//
//   - GREL_CONFIG_DIR is read once, from the base source;
//     GREL_CONFIG_WATCH_INTERVAL is read once, from the directory if it holds
//     the variable, else from the base source. A change of either needs a
//     restart.
//   - The process environment is read when a value is resolved; a change of
//     it while the process runs is seen only by a later reload.
package fxgrel
