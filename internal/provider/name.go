package provider

import (
	"strconv"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// MaxNameLen bounds an instance name, so that its readiness check's name
// ("<kind>:<name>") stays within the health module's 128 characters.
const MaxNameLen = 100

// NameRule is what [ValidateName] asks of a name.
const NameRule = "use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"

// NameError is an instance name that a provider refuses. It matches
// grelconfig.ErrInvalidName.
type NameError struct {
	// Pkg is the provider package ("grelredis").
	Pkg string
	// Name is the refused name, given in code.
	Name string
}

func (e *NameError) Error() string {
	return e.Pkg + ": instance name " + strconv.Quote(e.Name) + " is invalid: " + NameRule
}

// Is matches grelconfig.ErrInvalidName.
func (e *NameError) Is(target error) bool { return target == grelconfig.ErrInvalidName }

// ValidateName checks an instance name the way every provider does, at
// New and at Named: "" (the default instance) or 1 to [MaxNameLen] of
// [A-Za-z0-9._-] starting with a letter or digit. Every such name
// normalises to a variable segment (grelconfig.NormalizeName) and makes a
// valid readiness check name, so a name that would fail there fails here,
// at config time, with the provider's name.
func ValidateName(pkg, name string) error {
	if name == "" {
		return nil
	}
	if len(name) > MaxNameLen {
		return &NameError{Pkg: pkg, Name: name}
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case (b == '.' || b == '_' || b == '-') && i > 0:
		default:
			return &NameError{Pkg: pkg, Name: name}
		}
	}
	return nil
}
