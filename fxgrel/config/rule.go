package grelconfig

import (
	"fmt"
	"strings"
	"time"
)

// Rule is one validation of a field's value, declared next to the field. Its
// description is the reason shown when a value breaks it; it names bounds,
// never the value.
type Rule[T any] struct {
	desc string
	ok   func(T) bool
}

// NewRule returns a rule that refuses values for which ok is false, with desc
// as the reason ("must be a power of two").
func NewRule[T any](desc string, ok func(T) bool) Rule[T] { return Rule[T]{desc: desc, ok: ok} }

// Number is the set of types the ordering rules apply to.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func show[T Number](v T) string {
	if d, ok := any(v).(time.Duration); ok {
		return d.String()
	}
	return fmt.Sprint(v)
}

// Positive refuses values that are not greater than zero.
func Positive[T Number]() Rule[T] {
	return Rule[T]{desc: "must be greater than 0", ok: func(v T) bool { return v > 0 }}
}

// NonNegative refuses values below zero.
func NonNegative[T Number]() Rule[T] {
	return Rule[T]{desc: "must not be negative", ok: func(v T) bool { return v >= 0 }}
}

// AtLeast refuses values below minimum.
func AtLeast[T Number](minimum T) Rule[T] {
	return Rule[T]{desc: "must be at least " + show(minimum), ok: func(v T) bool { return v >= minimum }}
}

// AtMost refuses values above maximum.
func AtMost[T Number](maximum T) Rule[T] {
	return Rule[T]{desc: "must be at most " + show(maximum), ok: func(v T) bool { return v <= maximum }}
}

// Between refuses values outside [lo, hi].
func Between[T Number](lo, hi T) Rule[T] {
	return Rule[T]{desc: "must be between " + show(lo) + " and " + show(hi), ok: func(v T) bool { return v >= lo && v <= hi }}
}

// OneOf refuses values that are not in vals.
func OneOf[T comparable](vals ...T) Rule[T] {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprint(v)
	}
	return Rule[T]{desc: "must be one of " + strings.Join(s, ", "), ok: func(v T) bool {
		for _, a := range vals {
			if a == v {
				return true
			}
		}
		return false
	}}
}

// NotEmpty refuses the empty string.
func NotEmpty() Rule[string] {
	return Rule[string]{desc: "must not be empty", ok: func(v string) bool { return v != "" }}
}
