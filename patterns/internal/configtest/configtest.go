// Package configtest holds what the patterns' config tests share.
package configtest

import "strings"

// Leaks reports whether the error message msg repeats the value v, which
// the config contract forbids. Only values with a character that no message
// of the contract uses can be told apart from the message's own words (a
// bound such as 65536 contains the value 6553, a duration such as 10ms or a
// name such as full are words too), so shorter or plainer values never leak.
func Leaks(msg, v string) bool {
	if len(v) < 3 {
		return false
	}
	marked := false
	for _, r := range v {
		plain := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" .,:;_-()\"'\n", r)
		if !plain {
			marked = true
			break
		}
	}
	return marked && strings.Contains(msg, v)
}
