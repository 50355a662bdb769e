package grelratelimit_test

import (
	"strings"
	"testing"

	grelratelimit "github.com/grelmicro/grelmicro-go/patterns/ratelimit"
)

func TestParsePrefixes(t *testing.T) {
	got, err := grelratelimit.ParsePrefixes([]string{" 10.1.2.3/8 ", "192.0.2.7", "::1", "::ffff:10.0.0.0/104", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128", "10.0.0.0/8", "2001:db8::/32"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "host.example", "10.0.0.1-10.0.0.9"} {
		if _, err := grelratelimit.ParsePrefixes([]string{bad}); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted it", bad)
		}
	}
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "::ffff:1.2.3.4/120", "fe80::1%eth0", "1.2.3.4/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := grelratelimit.ParsePrefixes(strings.Split(s, ","))
		if err != nil {
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error repeats the input: %v", err)
			}
			return
		}
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
				t.Fatalf("%q gave %v: not a valid, masked, unmapped prefix", s, p)
			}
		}
	})
}
