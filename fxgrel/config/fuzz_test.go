package grelconfig_test

import (
	"strings"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

var fuzzVariables = []string{
	"GREL_TEST_F_LEASE_DURATION", "GREL_TEST_F_MAX_ATTEMPTS", "GREL_TEST_F_FACTOR", "GREL_TEST_F_ENABLED",
	"GREL_TEST_F_WORKER", "GREL_TEST_F_TAGS", "GREL_TEST_F_FORMAT", "GREL_TEST_F_PASSWORD", "GREL_TEST_F_WINDOW",
	"GREL_ENV_LOAD",
}

// vocabulary is every text an error may legitimately contain: variable and
// field names and the rules' reasons. A value that is part of it cannot be
// told apart from the message, so the fuzz target skips it.
func vocabulary() string {
	var b strings.Builder
	for _, v := range fuzzVariables {
		for _, bad := range []string{"", "!", "-1", "0", "1000", "1e9"} {
			_, err := spec.ResolveFrom(grelconfig.Map(withBase(map[string]string{v: bad})), "f")
			if err != nil {
				b.WriteString(err.Error())
			}
			_, err = algoSpecResolve(grelconfig.Map(withBase(map[string]string{strings.Replace(v, "_F_", "_CART_", 1): bad})), bucket, nil)
			if err != nil {
				b.WriteString(err.Error())
			}
		}
		b.WriteString(v)
	}
	return b.String()
}

func FuzzResolveNeverEchoesValue(f *testing.F) {
	for _, s := range []string{"30s", "abc", "-5", "1e400", "NaN", "1m30s", "hunter2", "yes", "json", "", "\x00\xff", "9223372036854775807"} {
		f.Add(uint8(0), s)
	}
	vocab := vocabulary()
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		v := fuzzVariables[int(which)%len(fuzzVariables)]
		srcs := map[string]grelconfig.Source{
			"instance": grelconfig.Map(withBase(map[string]string{v: value})),
			"kind":     grelconfig.Map(withBase(map[string]string{strings.Replace(v, "_F_", "_", 1): value})),
		}
		for where, src := range srcs {
			_, err := spec.ResolveFrom(src, "f")
			check(t, where, value, err, vocab)
			_, err = algoSpecResolve(grelconfig.Map(withBase(map[string]string{strings.Replace(v, "_F_", "_CART_", 1): value})), bucket, nil)
			check(t, where+"/algorithm", value, err, vocab)
		}
		for _, parse := range []func(string) error{
			func(s string) error { _, err := grelconfig.ParseDuration(s); return err },
			func(s string) error { _, err := grelconfig.ParseInt(s); return err },
			func(s string) error { _, err := grelconfig.ParseFloat(s); return err },
			func(s string) error { _, err := grelconfig.ParseBool(s); return err },
		} {
			check(t, "parse", value, parse(value), vocab)
		}
		if _, err := grelconfig.NormalizeName(value); err != nil {
			check(t, "name", value, err, vocab)
		}
	})
}

func check(t *testing.T, where, value string, err error, vocab string) {
	t.Helper()
	if err == nil || len(value) < 3 || strings.Contains(vocab, value) {
		return
	}
	if strings.Contains(err.Error(), value) {
		t.Fatalf("%s: error %q contains the value %q", where, err.Error(), value)
	}
}
