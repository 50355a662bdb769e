// Package fxgrel is grelmicro's core Fx module: it provides the config
// source and registry, the zap logger, the OpenTelemetry tracer and meter
// providers, the reconfigure hub and the Fx event logger.
package fxgrel
