package grelpostgres

import "go.uber.org/fx"

// Backends makes every client of this provider (the default one and each
// Named one) serve the lock and rate limit backends, each under the client's
// name. A pattern instance picks its backend by that name (default: the
// unnamed client). Give only one provider's Backends per pattern a default
// client: two default backends of one pattern fail at fx.New.
var Backends = fx.Options(LockBackends, RateLimitBackends)
