package main

import (
	"net/http"

	"go.uber.org/fx"

	grelhealth "github.com/grelmicro/grelmicro-go/health"
)

// healthExample serves /livez, /readyz and /healthz (and /{name} of each);
// providers add their readiness checks through fxgrel.HealthChecksGroup. On
// stop, /readyz answers 503 and GREL_HEALTH_DRAIN_DELAY passes before the
// HTTP server shuts down.
var healthExample = fx.Options(
	grelhealth.Module,
	grelhealth.StopAfterDrain[*Server](),
	provideRoutes(func(h *grelhealth.Handler) []Route {
		var rc routeCollector
		h.Mount(&rc)
		return rc.routes
	}),
)

// routeCollector turns a Mount call into routes.
type routeCollector struct{ routes []Route }

var healthDocs = map[string]string{
	"/livez":          "liveness: the process runs (no dependency checks)",
	"/readyz":         "readiness: every critical check passes (200 or 503, empty body)",
	"/healthz":        "every check, as JSON",
	"/livez/{name}":   "one liveness check",
	"/readyz/{name}":  "one readiness check",
	"/healthz/{name}": "one check, as JSON",
}

func (c *routeCollector) Handle(pattern string, h http.Handler) {
	c.routes = append(c.routes, Route{Pattern: pattern, Handler: h, Doc: healthDocs[pattern]})
}
