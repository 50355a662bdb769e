// Package grellog is grelmicro's logging: a zap logger configured by
// GREL_LOG_FORMAT and GREL_LOG_LEVEL, the standard field names every pattern
// logs with, and an slog.Logger over the same core.
package grellog
