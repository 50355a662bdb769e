// Package grelhealth runs health checks concurrently, each cached and
// bounded, and serves them as /livez, /readyz and /healthz.
package grelhealth
