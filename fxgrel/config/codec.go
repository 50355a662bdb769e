package grelconfig

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Codec parses and formats one field type. Parse errors are reasons shown to
// the operator; they must never contain the input, which may be a secret.
type Codec[T any] struct {
	// Type names the type in describe output ("duration", "int", ...).
	Type   string
	Parse  func(raw string) (T, error)
	Format func(v T) string
}

var (
	errNotDuration = errors.New("not a valid duration (use Go syntax such as 1m30s, or a number of seconds)")
	errNotInt      = errors.New("not a valid integer")
	errNotFloat    = errors.New("not a valid finite number")
	errNotBool     = errors.New("not a valid boolean (use true or false)")
)

// StringCodec passes the value through.
func StringCodec() Codec[string] {
	return Codec[string]{Type: "string", Parse: func(s string) (string, error) { return s, nil }, Format: func(s string) string { return s }}
}

// BoolCodec accepts true/false, 1/0, yes/no and on/off in any case.
func BoolCodec() Codec[bool] {
	return Codec[bool]{Type: "bool", Parse: ParseBool, Format: strconv.FormatBool}
}

// IntCodec accepts base-10 integers.
func IntCodec() Codec[int] {
	return Codec[int]{Type: "int", Parse: ParseInt, Format: strconv.Itoa}
}

// FloatCodec accepts finite decimal numbers.
func FloatCodec() Codec[float64] {
	return Codec[float64]{Type: "float", Parse: ParseFloat, Format: func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }}
}

// DurationCodec accepts Go duration syntax (1m30s) or a bare number of
// seconds (90, 0.5).
func DurationCodec() Codec[time.Duration] {
	return Codec[time.Duration]{Type: "duration", Parse: ParseDuration, Format: time.Duration.String}
}

// ListCodec splits on commas, trims spaces and drops empty items.
func ListCodec() Codec[[]string] {
	return Codec[[]string]{Type: "list", Parse: ParseList, Format: func(l []string) string { return strings.Join(l, ",") }}
}

// ParseBool parses a boolean variable.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off":
		return false, nil
	}
	return false, errNotBool
}

// ParseInt parses a base-10 integer variable.
func ParseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errNotInt
	}
	return n, nil
}

// ParseFloat parses a finite decimal number.
func ParseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if !isDecimal(s) {
		return 0, errNotFloat
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errNotFloat
	}
	return f, nil
}

// isDecimal rejects the forms strconv accepts that an operator would not
// mean: hex floats, infinities, NaN and underscores.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '.', r == '-', r == '+', r == 'e', r == 'E':
		default:
			return false
		}
	}
	return true
}

// ParseDuration parses Go duration syntax or a bare number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if isDecimal(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errNotDuration
		}
		ns := f * float64(time.Second)
		if ns > math.MaxInt64 || ns < math.MinInt64 {
			return 0, errNotDuration
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errNotDuration
	}
	return d, nil
}

// ParseList splits a comma-separated list.
func ParseList(s string) ([]string, error) {
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// EnumCodec accepts one of the allowed values, compared without case, and
// returns it in its declared spelling.
func EnumCodec[T ~string](allowed ...T) Codec[T] {
	reason := errors.New("must be one of " + joinValues(allowed))
	return Codec[T]{
		Type: "enum",
		Parse: func(s string) (T, error) {
			s = strings.TrimSpace(s)
			for _, a := range allowed {
				if strings.EqualFold(s, string(a)) {
					return a, nil
				}
			}
			var zero T
			return zero, reason
		},
		Format: func(v T) string { return string(v) },
	}
}

func joinValues[T ~string](vals []T) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
