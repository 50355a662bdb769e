package main

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `goos: linux
BenchmarkBreakerExecute/grel-8         	10000000	       101.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkBreakerExecute/gobreaker-8    	10000000	       120.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkLock/redis/grel-2  1000  50000 ns/op  1.000 roundtrips/op  200 B/op  5 allocs/op
PASS`
	rs := parse(strings.NewReader(in))
	if len(rs) != 3 {
		t.Fatalf("parsed %d results", len(rs))
	}
	if rs[0].group != "BreakerExecute" || rs[0].impl != "grel" || rs[0].cpu != "8" || rs[0].metrics["ns/op"] != 101.5 {
		t.Fatalf("first = %+v", rs[0])
	}
	if rs[2].group != "Lock/redis" || rs[2].impl != "grel" || rs[2].metrics["roundtrips/op"] != 1 || rs[2].metrics["allocs/op"] != 5 {
		t.Fatalf("third = %+v", rs[2])
	}
	if !ours("grel-redis") || ours("gobreaker") || ours("redsync") {
		t.Fatal("ours() misclassifies")
	}
}
