package grelconfig

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Source looks variables up by name.
type Source interface {
	// Lookup returns the variable's value and whether it is set.
	Lookup(name string) (string, bool)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(name string) (string, bool)

// Lookup calls f.
func (f SourceFunc) Lookup(name string) (string, bool) { return f(name) }

// Env returns the process environment as a [Source].
func Env() Source { return SourceFunc(os.LookupEnv) }

// Map returns a [Source] over a copy of m.
func Map(m map[string]string) Source { return mapSource(maps.Clone(m)) }

type mapSource map[string]string

func (m mapSource) Lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// Layered returns a [Source] that answers from the first source that has the
// variable.
func Layered(sources ...Source) Source {
	return SourceFunc(func(name string) (string, bool) {
		for _, s := range sources {
			if s == nil {
				continue
			}
			if v, ok := s.Lookup(name); ok {
				return v, ok
			}
		}
		return "", false
	})
}

// maxFileSize bounds what one variable file may hold.
const maxFileSize = 1 << 20

// DirSource is a [Source] over a directory of files named after the
// variables, the way Kubernetes mounts a ConfigMap or a Secret. A file's
// content is the value, with trailing newlines removed. Names that are not
// variable names (dot files, Kubernetes' ..data links, sub-directories) are
// ignored. The directory is read by [Dir] and again by [DirSource.Refresh].
type DirSource struct {
	path string
	mu   sync.RWMutex
	vals map[string]string
}

// Dir reads the directory at path into a [DirSource].
func Dir(path string) (*DirSource, error) {
	d := &DirSource{path: path}
	if _, err := d.Refresh(); err != nil {
		return nil, err
	}
	return d, nil
}

// Path returns the directory the source reads.
func (d *DirSource) Path() string { return d.path }

// Lookup returns the content of the file named name.
func (d *DirSource) Lookup(name string) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	v, ok := d.vals[name]
	return v, ok
}

// Refresh reads the directory again and reports whether any variable
// changed, appeared or disappeared. On error the previous contents stay.
func (d *DirSource) Refresh() (changed bool, err error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return false, fmt.Errorf("grelconfig: read config directory %s: %w", d.path, errors.Unwrap(err))
	}
	vals := make(map[string]string, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !isVariableName(name) {
			continue
		}
		p := filepath.Join(d.path, name)
		st, err := os.Stat(p) // follows the ..data symlinks of Kubernetes volumes
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		v, err := readSmallFile(p)
		if err != nil {
			return false, fmt.Errorf("grelconfig: read config file %s: %w", p, err)
		}
		vals[name] = v
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	changed = !maps.Equal(vals, d.vals)
	d.vals = vals
	return changed, nil
}

func readSmallFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", errors.Unwrap(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFileSize {
		return "", errors.New("larger than 1 MiB")
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func isVariableName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
