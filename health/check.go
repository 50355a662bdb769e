package grelhealth

import (
	"context"
	"time"
)

// Check is one named health check. Providers and patterns contribute Checks
// to the Fx value group fxgrel.HealthChecksGroup; apps register their own.
type Check struct {
	// Name identifies the check in reports and in /readyz/{name}.
	Name string
	// Func runs the check; nil error means healthy. Exactly one of Func and
	// DetailFunc is set.
	Func func(ctx context.Context) error
	// DetailFunc runs the check and returns details shown to authorized
	// callers of /healthz (JSON-encodable values; the map must not be
	// modified after it is returned).
	DetailFunc func(ctx context.Context) (map[string]any, error)
	// NonCritical checks never make the service unready; their failures show
	// in the aggregate report only. Checks are critical by default.
	NonCritical bool
	// Timeout bounds one run; 0 means the checker's default (5s).
	Timeout time.Duration
	// TTL is how long a result is reused; 0 means the checker's default (1s).
	TTL time.Duration
}
