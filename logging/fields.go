package grellog

// The standard field names every pattern logs with (DESIGN.md). Use these
// constants rather than literals so that one log query works everywhere.
const (
	FieldPattern  = "pattern"  // the pattern kind: "lock", "ratelimit", "breaker"
	FieldName     = "name"     // the instance name
	FieldBackend  = "backend"  // the backend: "memory", "redis", "postgres", "sqlite", "kube"
	FieldOp       = "op"       // the operation: "acquire", "release", "allow"
	FieldKey      = "key"      // the key operated on (a lock name, a rate-limit key)
	FieldState    = "state"    // a state after a change: "open", "leader", "ready"
	FieldHolder   = "holder"   // a lock or lease holder identity
	FieldFence    = "fence"    // a fencing token
	FieldDuration = "duration" // how long an operation took
	FieldError    = "error"    // the error (zap.Error writes this key)
	FieldTraceID  = "trace_id" // the W3C trace id of the span in the context (32 hex digits)
	FieldSpanID   = "span_id"  // the span id of the span in the context (16 hex digits)
)
