package grelconfig

import (
	"errors"
	"strings"
)

// Prefix starts every variable of the config contract.
const Prefix = "GREL_"

// EnvLoadVariable turns every GREL_* variable off when it is false.
const EnvLoadVariable = "GREL_ENV_LOAD"

// ErrInvalidName is returned for an instance name that normalises to nothing.
var ErrInvalidName = errors.New("grelconfig: invalid instance name")

// NormalizeName returns the variable segment for an instance name: upper
// case, characters outside [A-Z0-9_] turned into '_', runs of '_' collapsed
// and leading or trailing '_' trimmed. The empty name (the default instance)
// gives the empty segment; any other name that normalises to nothing is
// [ErrInvalidName].
func NormalizeName(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	seg := normalize(name)
	if seg == "" {
		return "", &nameError{}
	}
	return seg, nil
}

type nameError struct{}

func (*nameError) Error() string {
	return "grelconfig: invalid instance name: it has no letter or digit"
}
func (*nameError) Is(target error) bool { return target == ErrInvalidName }

func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	under := true // drop leading '_'
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		default:
			r = '_'
		}
		if r == '_' {
			if under {
				continue
			}
			under = true
		} else {
			under = false
		}
		b.WriteRune(r)
	}
	return strings.TrimSuffix(b.String(), "_")
}

// InstanceVariable returns GREL_{KIND}_{NAME}_{FIELD} for a normalised name
// segment, or GREL_{KIND}_{FIELD} when the segment is empty.
func InstanceVariable(kind, segment, field string) string {
	if segment == "" {
		return KindVariable(kind, field)
	}
	return Prefix + kind + "_" + segment + "_" + field
}

// KindVariable returns GREL_{KIND}_{FIELD}.
func KindVariable(kind, field string) string { return Prefix + kind + "_" + field }
