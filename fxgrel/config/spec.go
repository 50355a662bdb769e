package grelconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Spec declares the fields of one kind's Config type C: their variables,
// types, defaults and rules. A pattern declares its Spec once, at package
// level, and resolves it for each instance. Declaring a Spec is code, not
// input: malformed declarations (a bad kind, a duplicate field) panic.
type Spec[C any] struct {
	kind      string
	fields    []*fieldInfo[C]
	checks    []func(*C) error
	algorithm func(*C) string
}

type fieldInfo[C any] struct {
	key        string // LEASE_DURATION
	goName     string // LeaseDuration
	typ        string
	doc        string
	secret     bool
	codeOnly   bool
	algorithms []string
	def        string
	setDefault func(*C)
	parse      func(*C, string) error
	check      func(*C) string // "" when the value passes every rule
	format     func(*C) string
}

// NewSpec starts the declaration of a kind's Config. kind is upper case
// (LOCK, RATELIMIT).
func NewSpec[C any](kind string) *Spec[C] {
	if kind == "" || normalize(kind) != kind {
		panic("grelconfig: kind must be upper case letters, digits and '_': " + kind)
	}
	return &Spec[C]{kind: kind}
}

// Kind returns the spec's kind.
func (s *Spec[C]) Kind() string { return s.kind }

// Algorithm declares how to read the algorithm an instance uses from its
// Config (set in code, never from a variable). Fields declared with
// [Field.For] then apply only to instances of those algorithms. It returns s
// so that a declaration can chain it: NewSpec[Config]("X").Algorithm(...).
func (s *Spec[C]) Algorithm(of func(*C) string) *Spec[C] { s.algorithm = of; return s }

// Check declares a rule across several fields, run after every field has its
// value ("LeaseDuration must be greater than RenewDeadline"). The error's
// message must not contain values. It returns s for chaining.
func (s *Spec[C]) Check(check func(*C) error) *Spec[C] {
	s.checks = append(s.checks, check)
	return s
}

// Field is one declared field of C with values of type T.
type Field[C any, T any] struct {
	info *fieldInfo[C]
	get  func(*C) *T
}

// Var declares a field of any type through its codec. get returns the
// address of the field in a Config.
func Var[C any, T any](s *Spec[C], key string, get func(*C) *T, def T, codec Codec[T], rules ...Rule[T]) *Field[C, T] {
	if key == "" || normalize(key) != key {
		panic("grelconfig: field key must be upper case letters, digits and '_': " + key)
	}
	for _, f := range s.fields {
		if f.key == key {
			panic("grelconfig: field declared twice: " + s.kind + "_" + key)
		}
	}
	info := &fieldInfo[C]{
		key:    key,
		goName: goName(key),
		typ:    codec.Type,
		def:    codec.Format(def),
		setDefault: func(c *C) {
			*get(c) = def
		},
		parse: func(c *C, raw string) error {
			v, err := codec.Parse(raw)
			if err != nil {
				return err
			}
			*get(c) = v
			return nil
		},
		check: func(c *C) string {
			v := *get(c)
			for _, r := range rules {
				if !r.ok(v) {
					return r.desc
				}
			}
			return ""
		},
		format: func(c *C) string { return codec.Format(*get(c)) },
	}
	s.fields = append(s.fields, info)
	return &Field[C, T]{info: info, get: get}
}

// String declares a string field.
func (s *Spec[C]) String(key string, get func(*C) *string, def string, rules ...Rule[string]) *Field[C, string] {
	return Var(s, key, get, def, StringCodec(), rules...)
}

// Bool declares a boolean field.
func (s *Spec[C]) Bool(key string, get func(*C) *bool, def bool) *Field[C, bool] {
	return Var(s, key, get, def, BoolCodec())
}

// Int declares an integer field.
func (s *Spec[C]) Int(key string, get func(*C) *int, def int, rules ...Rule[int]) *Field[C, int] {
	return Var(s, key, get, def, IntCodec(), rules...)
}

// Float declares a floating-point field.
func (s *Spec[C]) Float(key string, get func(*C) *float64, def float64, rules ...Rule[float64]) *Field[C, float64] {
	return Var(s, key, get, def, FloatCodec(), rules...)
}

// Duration declares a duration field.
func (s *Spec[C]) Duration(key string, get func(*C) *time.Duration, def time.Duration, rules ...Rule[time.Duration]) *Field[C, time.Duration] {
	return Var(s, key, get, def, DurationCodec(), rules...)
}

// List declares a comma-separated list field.
func (s *Spec[C]) List(key string, get func(*C) *[]string, def []string, rules ...Rule[[]string]) *Field[C, []string] {
	return Var(s, key, get, def, ListCodec(), rules...)
}

// Enum declares a string field restricted to allowed values.
func Enum[C any, T ~string](s *Spec[C], key string, get func(*C) *T, def T, allowed ...T) *Field[C, T] {
	return Var(s, key, get, def, EnumCodec(allowed...), OneOf(allowed...))
}

// Secret marks the field's value as secret: describe output redacts it.
func (f *Field[C, T]) Secret() *Field[C, T] { f.info.secret = true; return f }

// CodeOnly marks a field that only code sets (an algorithm, a mode chosen
// by a constructor): no variable is read for it, and a variable that tries
// to set it is an error.
func (f *Field[C, T]) CodeOnly() *Field[C, T] { f.info.codeOnly = true; return f }

// Doc sets the field's one-line description.
func (f *Field[C, T]) Doc(text string) *Field[C, T] { f.info.doc = text; return f }

// For restricts the field to instances of the given algorithms.
func (f *Field[C, T]) For(algorithms ...string) *Field[C, T] {
	f.info.algorithms = append(f.info.algorithms, algorithms...)
	return f
}

// GoName sets the Go field name that errors and describe output use, when
// the one derived from the key (LEASE_DURATION: LeaseDuration) is not it.
func (f *Field[C, T]) GoName(name string) *Field[C, T] { f.info.goName = name; return f }

// Key returns the field's variable suffix (LEASE_DURATION).
func (f *Field[C, T]) Key() string { return f.info.key }

// Name returns the field's Go name (LeaseDuration).
func (f *Field[C, T]) Name() string { return f.info.goName }

// Set returns an explicit setting of the field, the first step of the
// resolution order.
func (f *Field[C, T]) Set(v T) Setting[C] {
	get := f.get
	return Setting[C]{info: f.info, apply: func(c *C) { *get(c) = v }}
}

// Setting is an explicit value for one field, given in code. Patterns wrap
// settings in their functional options (WithLeaseDuration).
type Setting[C any] struct {
	info  *fieldInfo[C]
	apply func(*C)
}

// Apply writes the setting's value into c, for constructors that take a
// Config as-is (FromConfig) and apply options on top of it.
func (s Setting[C]) Apply(c *C) {
	if s.apply != nil {
		s.apply(c)
	}
}

// initialisms keep Go's spelling in derived field names (TTL, not Ttl).
var initialisms = map[string]bool{"ID": true, "TTL": true, "URL": true, "HTTP": true, "API": true, "IP": true, "DB": true, "TLS": true, "QPS": true, "CPU": true}

func goName(key string) string {
	var b strings.Builder
	for _, part := range strings.Split(key, "_") {
		if part == "" {
			continue
		}
		if initialisms[part] {
			b.WriteString(part)
			continue
		}
		b.WriteString(part[:1] + strings.ToLower(part[1:]))
	}
	return b.String()
}

func (s *Spec[C]) applies(f *fieldInfo[C], algo string) bool {
	return algo == "" || len(f.algorithms) == 0 || slices.Contains(f.algorithms, algo)
}

func (s *Spec[C]) algorithmOf(c *C) string {
	if s.algorithm == nil {
		return ""
	}
	return s.algorithm(c)
}

// Defaults returns a Config with every field at its default.
func (s *Spec[C]) Defaults() C {
	var c C
	for _, f := range s.fields {
		f.setDefault(&c)
	}
	return c
}

// Resolve fills a Config for the named instance in the order of the
// contract: settings, then the instance variable, then the kind variable,
// then the default. It validates the result and records what it read in reg.
// A nil reg reads the process environment and records nothing.
func (s *Spec[C]) Resolve(reg *Registry, instance string, settings ...Setting[C]) (C, error) {
	var src Source
	if reg != nil {
		src = reg.Source()
	} else {
		src = Env()
	}
	c, entries, err := s.resolve(src, instance, settings)
	if err == nil && reg != nil {
		reg.record(s.kind, instance, entries)
	}
	return c, err
}

// ResolveFrom is [Spec.Resolve] from a source, recording nothing.
func (s *Spec[C]) ResolveFrom(src Source, instance string, settings ...Setting[C]) (C, error) {
	c, _, err := s.resolve(src, instance, settings)
	return c, err
}

func (s *Spec[C]) resolve(src Source, instance string, settings []Setting[C]) (C, []Entry, error) {
	var c C
	seg, err := NormalizeName(instance)
	if err != nil {
		return c, nil, err
	}
	load, err := envLoad(src)
	if err != nil {
		return c, nil, err
	}
	origins := make(map[*fieldInfo[C]]Origin, len(s.fields))
	for _, f := range s.fields {
		f.setDefault(&c)
		origins[f] = OriginDefault
	}
	for _, st := range settings {
		if st.apply == nil {
			continue
		}
		st.apply(&c)
		if st.info != nil {
			origins[st.info] = OriginOption
		}
	}
	algo := s.algorithmOf(&c)
	var errs []error
	vars := make(map[*fieldInfo[C]]string, len(s.fields))
	bad := map[*fieldInfo[C]]bool{}
	for _, f := range s.fields {
		instVar := InstanceVariable(s.kind, seg, f.key)
		kindVar := KindVariable(s.kind, f.key)
		if !s.applies(f, algo) {
			if load && seg != "" && !f.codeOnly {
				if _, ok := src.Lookup(instVar); ok {
					errs = append(errs, &Error{Variable: instVar, Field: f.goName, Origin: OriginInstance,
						Reason: fmt.Sprintf("sets a field of the %s algorithm, but this instance uses %s", strings.Join(f.algorithms, " or "), algo)})
				}
			}
			continue
		}
		if f.codeOnly {
			// The environment never chooses what code chooses: a variable
			// for a code-only field is an error, not silence.
			if load {
				for _, v := range []struct {
					name   string
					origin Origin
				}{{instVar, OriginInstance}, {kindVar, OriginKind}} {
					if v.origin == OriginInstance && seg == "" {
						continue
					}
					if _, ok := src.Lookup(v.name); ok {
						errs = append(errs, &Error{Variable: v.name, Field: f.goName, Origin: v.origin,
							Reason: "is chosen in code, never by a variable"})
					}
				}
			}
			continue
		}
		if origins[f] == OriginOption || !load {
			continue
		}
		name, origin := kindVar, OriginKind
		raw, ok := "", false
		if seg != "" {
			raw, ok = src.Lookup(instVar)
			name, origin = instVar, OriginInstance
		}
		if !ok {
			raw, ok = src.Lookup(kindVar)
			name, origin = kindVar, OriginKind
		}
		if !ok {
			continue
		}
		origins[f], vars[f] = origin, name
		if err := f.parse(&c, raw); err != nil {
			bad[f] = true
			errs = append(errs, &Error{Variable: name, Field: f.goName, Origin: origin, Reason: err.Error()})
		}
	}
	if err := s.validate(&c, algo, origins, vars, bad, len(errs) == 0); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, j.Unwrap()...)
		} else {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return c, nil, errors.Join(errs...)
	}
	entries := make([]Entry, 0, len(s.fields))
	for _, f := range s.fields {
		if !s.applies(f, algo) {
			continue
		}
		e := Entry{
			Variable: InstanceVariable(s.kind, seg, f.key),
			Kind:     s.kind, Instance: instance, Field: f.goName,
			Type: f.typ, Default: f.def, Value: f.format(&c),
			Origin: origins[f], Secret: f.secret, Doc: f.doc,
		}
		if f.secret {
			e.Value, e.Default = redact(e.Value), redact(e.Default)
		}
		entries = append(entries, e)
	}
	return c, entries, nil
}

// Validate checks a Config given as-is against every field rule and every
// cross-field check, as the FromConfig constructors and Reconfigure do.
func (s *Spec[C]) Validate(c C) error {
	return s.validate(&c, s.algorithmOf(&c), nil, nil, nil, true)
}

// validate runs the field rules (skipping fields that failed to parse) and,
// when every field is valid and cross is set, the cross-field checks.
func (s *Spec[C]) validate(c *C, algo string, origins map[*fieldInfo[C]]Origin, vars map[*fieldInfo[C]]string, bad map[*fieldInfo[C]]bool, cross bool) error {
	var errs []error
	for _, f := range s.fields {
		if !s.applies(f, algo) || bad[f] {
			continue
		}
		if reason := f.check(c); reason != "" {
			origin := OriginConfig
			if origins != nil {
				origin = origins[f]
			}
			errs = append(errs, &Error{Variable: vars[f], Field: f.goName, Origin: origin, Reason: reason})
		}
	}
	if len(errs) > 0 || !cross {
		return errors.Join(errs...)
	}
	for _, check := range s.checks {
		if err := check(c); err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				err = &Error{Origin: OriginConfig, Reason: strings.TrimPrefix(err.Error(), "grelconfig: ")}
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func envLoad(src Source) (bool, error) {
	raw, ok := src.Lookup(EnvLoadVariable)
	if !ok {
		return true, nil
	}
	v, err := ParseBool(raw)
	if err != nil {
		return false, &Error{Variable: EnvLoadVariable, Origin: OriginEnv, Reason: err.Error()}
	}
	return v, nil
}

func redact(v string) string {
	if v == "" {
		return ""
	}
	return "<redacted>"
}

// Bind returns a [Reloadable] for one instance: on reload it resolves the
// instance again with the same settings and hands the new Config to apply
// (the instance's Reconfigure).
func (s *Spec[C]) Bind(instance string, settings []Setting[C], apply func(C) error) Reloadable {
	return &binding[C]{spec: s, instance: instance, settings: slices.Clone(settings), apply: apply}
}

type binding[C any] struct {
	spec     *Spec[C]
	instance string
	settings []Setting[C]
	apply    func(C) error
}

func (b *binding[C]) ConfigKey() Key { return Key{Kind: b.spec.kind, Instance: b.instance} }

func (b *binding[C]) Reload(reg *Registry) error {
	c, entries, err := b.spec.resolve(reg.Source(), b.instance, b.settings)
	if err != nil {
		return err
	}
	if err := b.apply(c); err != nil {
		return err
	}
	reg.record(b.spec.kind, b.instance, entries)
	return nil
}
