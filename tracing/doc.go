// Package greltrace sets up OpenTelemetry tracing and metrics from the
// standard OTEL_* variables, and gives the span helpers every grelmicro
// pattern uses.
//
// # Providers
//
// [LoadConfig] reads the OpenTelemetry variables through the app's
// *grelconfig.Registry (so describe lists them, secrets redacted) plus
// GREL_TRACE_SHUTDOWN_TIMEOUT; [New] builds the [Providers] from a Config
// given as-is; [Load] does both; [Module] does it in an Fx app and hooks
// Start and Stop on the app's lifecycle. docs/tracing.md has the table of
// variables.
//
// A signal without an exporter gets OpenTelemetry's no-op provider: nothing
// is started and instrumented code costs nothing ([IsNoop] tells). Unlike the
// OpenTelemetry specification, where an unset OTEL_TRACES_EXPORTER means
// otlp, an unset exporter here means otlp only when an OTLP endpoint
// variable is set, and none otherwise: a process that sets nothing never
// dials localhost.
//
// # Guarantees
//
//   - [New] starts no goroutine and opens no connection; [Providers.Start]
//     creates the exporters, which connect on their first export.
//   - [Providers.Stop] flushes within GREL_TRACE_SHUTDOWN_TIMEOUT (default
//     5s) or its context's deadline, whichever is first. When a collector
//     is down or stalls, the exports in flight are cut at the bound, their
//     data is dropped with a warning, and Stop returns nil: a collector
//     never hangs or fails the app's stop. No exporter goroutine outlives
//     Stop.
//   - Export failures are logged through [WithLogger] (warn on the first,
//     debug while they last, info on recovery), not through OpenTelemetry's
//     global error handler.
//   - A bad variable fails [LoadConfig] with a *grelconfig.Error naming the
//     variable, never the value; every bad variable is reported at once.
//   - No global state: OpenTelemetry's globals are set only by an explicit
//     [Providers.SetGlobal].
//
// # Helpers
//
// [Run] and [RunValue] run a function in a span, recording its error and
// setting the span's status; [Annotate] puts attributes on the current span
// and on the logging context in one call (grellog.Ctx and the slog handler
// write them on every line of that context).
//
// # Non-guarantees
//
//   - What the SDK reads itself from the process environment (OTEL_BSP_*,
//     certificates, compression) is not read through the registry and not
//     listed by describe.
//   - Spans ended before Start are not exported.
//   - Only the grpc and http/protobuf protocols exist (the Go exporters have
//     no http/json); only the specification's built-in samplers and the
//     tracecontext and baggage propagators are supported.
package greltrace
