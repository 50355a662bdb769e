package grelconfig

import (
	"errors"
	"strings"
)

// ErrInvalid matches every [*Error] with errors.Is.
var ErrInvalid = errors.New("grelconfig: invalid config")

// Origin says where a value came from.
type Origin string

// The origins of a value, in resolution order.
const (
	OriginOption   Origin = "option"   // an explicit option in code
	OriginInstance Origin = "instance" // GREL_{KIND}_{NAME}_{FIELD}
	OriginKind     Origin = "kind"     // GREL_{KIND}_{FIELD}
	OriginDefault  Origin = "default"  // the documented default
	OriginConfig   Origin = "config"   // a Config given as-is (FromConfig)
	OriginEnv      Origin = "env"      // a vendor variable read by a provider
)

// Error is a config value that was refused. It names where the value came
// from and why it was refused, never the value itself.
type Error struct {
	// Variable is the variable that supplied the value; empty for options,
	// defaults and configs given as-is.
	Variable string
	// Field is the Go name of the Config field ("LeaseDuration"); empty for
	// rules that span several fields.
	Field string
	// Origin says where the refused value came from.
	Origin Origin
	// Reason says what is wrong, without the value.
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("grelconfig: ")
	switch {
	case e.Variable != "":
		b.WriteString(e.Variable)
		if e.Field != "" {
			b.WriteString(" (" + e.Field + ")")
		}
	case e.Field != "":
		b.WriteString(string(e.Origin) + " " + e.Field)
	default:
		b.WriteString(string(e.Origin))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is [ErrInvalid].
func (e *Error) Is(target error) bool { return target == ErrInvalid }
