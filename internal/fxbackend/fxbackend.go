// Package fxbackend is the shared machinery by which Fx modules pick a
// pattern's Backend: providers contribute named entries to a value group and
// each pattern instance selects one by name. A [Set] is how a pattern Module
// keeps them: checked at fx.New, picked per instance, with a memory fallback
// logged once per name.
package fxbackend

import (
	"fmt"
	"slices"
	"strings"
)

// Entry is one Backend offered to a pattern through its value group. Name is
// empty for the default backend of the provider's default instance.
type Entry[B any] struct {
	// Name is the provider instance's name ("" for the default).
	Name string
	// Provider names what offers it ("grelredis", "grelsqlite").
	Provider string
	Backend  B
}

// Select returns the entry named name. pkg is the pattern's package
// ("grellock"); it prefixes the errors. ok is false when no entry has that
// name (the caller decides whether memory is the fallback).
func Select[B any](pkg string, entries []Entry[B], name string) (b B, provider string, ok bool, err error) {
	var found []Entry[B]
	for _, e := range entries {
		if e.Name == name {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return b, "", false, nil
	case 1:
		return found[0].Backend, found[0].Provider, true, nil
	}
	provs := make([]string, len(found))
	for i, e := range found {
		provs[i] = e.Provider
	}
	slices.Sort(provs)
	if name == "" {
		return b, "", false, fmt.Errorf("%s: %d providers offer the default %s.Backend (%s): keep one as the default and give the others a name (for example %s.Named(\"primary\")), then pick a named backend per instance",
			pkg, len(found), pkg, strings.Join(provs, ", "), provs[1])
	}
	return b, "", false, fmt.Errorf("%s: %d providers offer a %s.Backend named %q (%s): names must be unique per pattern", pkg, len(found), pkg, name, strings.Join(provs, ", "))
}

// Names lists the names on offer, for error messages.
func Names[B any](entries []Entry[B]) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name
		if n == "" {
			n = "(default)"
		}
		out = append(out, n+" from "+e.Provider)
	}
	slices.Sort(out)
	return out
}
