// Package grellog is grelmicro's logging: a zap logger configured by
// GREL_LOG_* variables, the standard field names every pattern logs with,
// trace_id and span_id taken from the context, and an slog.Logger over the
// same core for libraries that log through slog.
//
// # Building a logger
//
// [New] builds a logger from a [Config] given as-is and reads no
// environment; [Load] resolves the Config through grelconfig first
// (options in code, then GREL_LOG_*, then defaults) and records the
// variables for describe. [Module] does the same in an Fx app and also makes
// the logger Fx's event logger.
//
//	GREL_LOG_FORMAT    json | logfmt | pretty | auto (default auto: pretty on a terminal, json otherwise)
//	GREL_LOG_LEVEL     debug | info | warn | error (default info; reloadable)
//	GREL_LOG_CALLER    add caller=file:line (default false)
//	GREL_LOG_SAMPLING  per message and level, first 100 a second then 1 in 100 (default false)
//	GREL_LOG_COLOR     auto | always | never (default auto: a terminal without NO_COLOR)
//
// The logger writes to os.Stderr unless [WithWriter] says otherwise.
//
// # Formats
//
// Every format uses the keys time, level, msg, logger, caller, stacktrace,
// lower-case levels, RFC 3339 UTC times with milliseconds and durations in
// Go syntax. json is zap's JSON encoder. logfmt ([NewLogfmtEncoder]) writes
// one key=value line per entry: values are quoted and escaped when they need
// it, keys are made valid, objects and namespaces become dotted keys, and
// arrays are written as JSON text; every line parses back with a standard
// logfmt decoder to the same keys and values (a fuzz test proves it).
// pretty ([NewPrettyEncoder]) is for people: local time of day, level,
// message, fields, coloured only when asked or on a terminal; one line per
// entry except for stack traces.
//
// # Context
//
// [Ctx] and the [Context] field add trace_id and span_id when the context
// carries a valid span, and the fields set with [ContextWith] (what
// greltrace.Annotate records). The [Slog] handler does the same from the
// record's context.
//
// # Guarantees
//
//   - No global state: the package never replaces zap's or slog's globals.
//   - A bad variable fails [Load] and [Module] with a *grelconfig.Error that
//     names the variable and never contains the value.
//   - logfmt and pretty lines never contain a raw newline or control
//     character from a message, key or value; invalid UTF-8 becomes U+FFFD.
//
// # Non-guarantees
//
//   - Only the level changes at run time; a reload that changes another
//     GREL_LOG_* field is refused until the process restarts.
//   - Fields added after a zap namespace (or an slog group) belong to it,
//     trace ids included; add context fields before opening one.
//   - Sampling drops entries by design: do not turn it on where every line
//     matters (audit logs).
package grellog
