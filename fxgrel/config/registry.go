package grelconfig

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
)

// Entry describes one variable an app reads.
type Entry struct {
	// Variable is the instance's variable (GREL_LOCK_CART_LEASE_DURATION),
	// or the vendor variable for providers.
	Variable string `json:"variable"`
	Kind     string `json:"kind"`
	Instance string `json:"instance,omitempty"`
	Field    string `json:"field"`
	Type     string `json:"type"`
	Default  string `json:"default"`
	// Value is the effective value; "<redacted>" for secrets.
	Value  string `json:"value"`
	Origin Origin `json:"origin"`
	Secret bool   `json:"secret,omitempty"`
	Doc    string `json:"doc,omitempty"`
}

// Key identifies one configured instance.
type Key struct {
	Kind     string
	Instance string
}

func (k Key) String() string {
	if k.Instance == "" {
		return k.Kind
	}
	return k.Kind + "/" + k.Instance
}

// Reloadable is a live instance whose config can be resolved again and
// applied at run time. [Spec.Bind] makes one.
type Reloadable interface {
	ConfigKey() Key
	// Reload resolves the instance's config from reg's source and applies
	// it; on error the running config stays.
	Reload(reg *Registry) error
}

// ReloadError is one instance that refused a reload.
type ReloadError struct {
	Key Key
	Err error
}

func (e *ReloadError) Error() string {
	return "grelconfig: reload " + e.Key.String() + " refused: " + e.Err.Error()
}
func (e *ReloadError) Unwrap() error { return e.Err }

// Registry carries an app's config source, records what was resolved from it
// and knows every live reloadable instance. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	src     Source
	log     *zap.Logger
	entries map[string]Entry // by Kind/Instance/Field
	live    map[*registration]struct{}
}

type registration struct{ r Reloadable }

// RegistryOption configures a [Registry].
type RegistryOption func(*Registry)

// WithLogger makes the registry log reloads (info when applied, warn when
// refused). The default is silent.
func WithLogger(l *zap.Logger) RegistryOption {
	return func(r *Registry) {
		if l != nil {
			r.log = l
		}
	}
}

// NewRegistry returns a registry over src.
func NewRegistry(src Source, opts ...RegistryOption) *Registry {
	if src == nil {
		src = Map(nil)
	}
	r := &Registry{src: src, log: zap.NewNop(), entries: map[string]Entry{}, live: map[*registration]struct{}{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Source returns the registry's current source.
func (r *Registry) Source() Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.src
}

func entryKey(kind, instance, field string) string { return kind + "\x00" + instance + "\x00" + field }

func (r *Registry) record(kind, instance string, entries []Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		r.entries[entryKey(kind, instance, e.Field)] = e
	}
}

// VendorVar declares a variable a provider reads from its vendor's
// namespace (REDIS_URL, PGHOST), for [Registry.Vendor].
type VendorVar struct {
	Name     string
	Kind     string // the provider's kind, e.g. REDIS
	Instance string
	Type     string
	Default  string
	Secret   bool
	Doc      string
	// Redact, when set, turns a value into what describe may show (a URL
	// without its password). Secret values are redacted entirely.
	Redact func(string) string
}

// Vendor looks a vendor variable up in the source and records it for
// describe. GREL_ENV_LOAD does not apply to vendor variables.
func (r *Registry) Vendor(v VendorVar) (string, bool) {
	src := r.Source()
	val, ok := src.Lookup(v.Name)
	e := Entry{Variable: v.Name, Kind: v.Kind, Instance: v.Instance, Field: v.Name, Type: cmp.Or(v.Type, "string"),
		Default: v.Default, Origin: OriginDefault, Secret: v.Secret, Doc: v.Doc, Value: v.Default}
	if ok {
		e.Origin, e.Value = OriginEnv, val
	}
	switch {
	case v.Secret:
		e.Value, e.Default = redact(e.Value), redact(e.Default)
	case v.Redact != nil:
		e.Value = v.Redact(e.Value)
	}
	r.record(v.Kind, v.Instance, []Entry{e})
	return val, ok
}

// Describe returns every variable resolved through the registry, sorted by
// kind, instance and variable.
func (r *Registry) Describe() []Entry {
	r.mu.Lock()
	out := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Variable, b.Variable))
	})
	return out
}

// WriteTable writes entries as an aligned text table.
func WriteTable(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tTYPE\tDEFAULT\tVALUE\tORIGIN")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Variable, e.Type, dash(e.Default), dash(e.Value), e.Origin)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Register adds a live instance to the registry; the returned function
// removes it (call it when the instance stops).
func (r *Registry) Register(x Reloadable) (unregister func()) {
	reg := &registration{r: x}
	r.mu.Lock()
	r.live[reg] = struct{}{}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.live, reg)
		r.mu.Unlock()
	}
}

// Live returns the keys of the registered instances.
func (r *Registry) Live() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]Key, 0, len(r.live))
	for reg := range r.live {
		keys = append(keys, reg.r.ConfigKey())
	}
	slices.SortFunc(keys, func(a, b Key) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Instance, b.Instance)) })
	return keys
}

// Reload makes src the registry's source (nil keeps the current one, for a
// source whose contents changed), re-resolves every registered instance from
// it and applies each new config. Instances that refuse keep their running
// config; their refusals are returned joined, each a [*ReloadError].
func (r *Registry) Reload(src Source) error {
	r.mu.Lock()
	if src != nil {
		r.src = src
	}
	regs := make([]*registration, 0, len(r.live))
	for reg := range r.live {
		regs = append(regs, reg)
	}
	r.mu.Unlock()
	slices.SortFunc(regs, func(a, b *registration) int {
		ka, kb := a.r.ConfigKey(), b.r.ConfigKey()
		return cmp.Or(cmp.Compare(ka.Kind, kb.Kind), cmp.Compare(ka.Instance, kb.Instance))
	})
	var errs []error
	for _, reg := range regs {
		key := reg.r.ConfigKey()
		if err := reg.r.Reload(r); err != nil {
			errs = append(errs, &ReloadError{Key: key, Err: err})
			r.log.Warn("config reload refused", zap.String("pattern", key.Kind), zap.String("name", key.Instance), zap.Error(err))
			continue
		}
		r.log.Debug("config reloaded", zap.String("pattern", key.Kind), zap.String("name", key.Instance))
	}
	if len(errs) == 0 && len(regs) > 0 {
		r.log.Info("config reloaded", zap.Int("instances", len(regs)))
	}
	return errors.Join(errs...)
}

// Watch polls dir every interval and, when its contents change, reloads
// every instance from the registry's current source (which should include
// dir, for example Layered(dir, Env())). It returns when ctx is done. Each
// reload's outcome goes to onReload when it is not nil.
func (r *Registry) Watch(ctx context.Context, dir *DirSource, interval time.Duration, onReload func(error)) error {
	if interval <= 0 {
		return errors.New("grelconfig: watch interval must be greater than 0")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		changed, err := dir.Refresh()
		if err != nil {
			r.log.Warn("config directory unreadable", zap.String("op", "watch"), zap.Error(err))
			continue
		}
		if !changed {
			continue
		}
		err = r.Reload(nil)
		if onReload != nil {
			onReload(err)
		}
	}
}
