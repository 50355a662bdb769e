package grelhealth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw     string
		exclude []string
		verbose bool
	}{
		{"", nil, false},
		{"verbose", nil, true},
		{"verbose=", nil, true},
		{"verbose=true", nil, true},
		{"verbose=0", nil, false},
		{"verbose=off", nil, false},
		{"exclude=a", []string{"a"}, false},
		{"exclude=a,b&exclude=c", []string{"a", "b", "c"}, false},
		{"exclude=,a,,+b+,&exclude=", []string{"a", "b"}, false},
		{"exclude=a%2Cb", []string{"a", "b"}, false},
		{"exclude=a;verbose", nil, false}, // ';' is refused by url.ParseQuery: that pair is dropped
		{"exclude=a&bad=%zz&verbose", []string{"a"}, true},
	}
	for _, tt := range tests {
		q := parseQuery(tt.raw)
		if !slices.Equal(q.exclude, tt.exclude) || q.verbose != tt.verbose {
			t.Errorf("parseQuery(%q) = %q, %v; want %q, %v", tt.raw, q.exclude, q.verbose, tt.exclude, tt.verbose)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "verbose", "exclude=a,b&exclude=c", "exclude=%2C%2C&verbose=false", "exclude=a%0Ab%22c", "exclude=" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := parseQuery(raw)
		vals, _ := url.ParseQuery(raw)
		var want []string
		for _, v := range vals["exclude"] {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					want = append(want, item)
				}
			}
		}
		if !slices.Equal(q.exclude, want) {
			t.Fatalf("exclude = %q, want %q", q.exclude, want)
		}
		_, hasVerbose := vals["verbose"]
		if q.verbose && !hasVerbose {
			t.Fatalf("verbose without the parameter")
		}
		echoed := reported(q.exclude)
		if len(echoed) > maxReported {
			t.Fatalf("%d names echoed", len(echoed))
		}
		for _, n := range echoed {
			if len(n) > maxEcho {
				t.Fatalf("echoed %d bytes", len(n))
			}
			for i := 0; i < len(n); i++ {
				if c := n[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("echoed byte %#x", c)
				}
			}
		}
	})
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"redis": true, "redis:cache": true, "Redis-1": true, "pg.primary": true, "a_b": true, "0": true,
		"": false, ":a": false, ".a": false, "_a": false, "a/b": false, "a,b": false, "a b": false, "é": false, "a%2Fb": false,
	} {
		if validName(name) != want {
			t.Errorf("validName(%q) = %v", name, !want)
		}
	}
}
