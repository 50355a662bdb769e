// Package instance holds the construction steps the patterns share: their
// functional options applied in order, a Config given as-is checked the
// way NewFromConfig promises, and errors that name the instance.
package instance

import (
	"fmt"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Collect applies opts to o in order, skipping nil ones, and returns o
// (built with the pattern's defaults).
func Collect[O any, F ~func(*O)](o *O, opts []F) *O {
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// FromConfig is the config of a NewFromConfig constructor: it checks that
// name is an instance name, applies settings on top of cfg
// ([grelconfig.Setting.Apply]), then normalize (when not nil), and
// validates the result with spec. It reads no environment.
func FromConfig[C any](spec *grelconfig.Spec[C], name string, cfg C, settings []grelconfig.Setting[C], normalize func(C) C) (C, error) {
	if _, err := grelconfig.NormalizeName(name); err != nil {
		return cfg, err
	}
	for _, s := range settings {
		s.Apply(&cfg)
	}
	if normalize != nil {
		cfg = normalize(cfg)
	}
	if err := spec.Validate(cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Error prefixes an error of a pattern's instance with pkg and, for a named
// instance, noun and the name: `grelretry: retrier "payments": ...`,
// `grelretry: ...` for the unnamed one. It wraps err (%w).
func Error(pkg, noun, name string, err error) error {
	if name == "" {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	return fmt.Errorf("%s: %s %q: %w", pkg, noun, name, err)
}
