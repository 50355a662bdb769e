//go:build !race

package grellock_test

const raceEnabled = false
