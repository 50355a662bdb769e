package grelconfig_test

import (
	"os"
	"path/filepath"
	"testing"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

func TestSources(t *testing.T) {
	m := map[string]string{"A": "1"}
	copied := grelconfig.Map(m)
	m["A"] = "changed" // Map copies: later changes to m do not leak in
	layered := grelconfig.Layered(nil, grelconfig.Map(map[string]string{"A": "top"}), grelconfig.Map(map[string]string{"A": "low", "B": "b"}))
	fn := grelconfig.SourceFunc(func(name string) (string, bool) { return "f-" + name, name == "X" })
	tests := []struct {
		name   string
		src    grelconfig.Source
		lookup string
		want   string
		ok     bool
	}{
		{"map copies", copied, "A", "1", true},
		{"map missing", copied, "B", "", false},
		{"layered: first source wins", layered, "A", "top", true},
		{"layered: falls through", layered, "B", "b", true},
		{"layered: missing everywhere", layered, "C", "", false},
		{"func", fn, "X", "f-X", true},
		{"func missing", fn, "Y", "f-Y", false},
		{"env missing", grelconfig.Env(), "GREL_TEST_SURELY_UNSET_VARIABLE_42", "", false},
		{"nil map", grelconfig.Map(nil), "A", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := tt.src.Lookup(tt.lookup)
			if ok != tt.ok || (ok && v != tt.want) {
				t.Fatalf("Lookup(%q) = %q, %v; want %q, %v", tt.lookup, v, ok, tt.want, tt.ok)
			}
		})
	}
}

// writeConfigMap lays files out the way the kubelet mounts a ConfigMap:
// ..<timestamp>/NAME, ..data -> ..<timestamp>, NAME -> ..data/NAME.
func writeConfigMap(t *testing.T, dir, version string, files map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..ts-"+version)
	if err := os.MkdirAll(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(ts, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink("..ts-"+version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for k := range files {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirSource(t *testing.T) {
	dir := t.TempDir()
	writeConfigMap(t, dir, "1", map[string]string{"GREL_LOCK_LEASE_DURATION": "30s\n", "GREL_X": "a\r\n"})
	if err := os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "SUBDIR"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := grelconfig.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := d.Lookup("GREL_LOCK_LEASE_DURATION"); !ok || v != "30s" {
		t.Fatalf("lookup = %q, %v", v, ok)
	}
	if v, _ := d.Lookup("GREL_X"); v != "a" {
		t.Fatalf("GREL_X = %q", v)
	}
	for _, n := range []string{".hidden", "..data", "SUBDIR"} {
		if _, ok := d.Lookup(n); ok {
			t.Errorf("%s should be ignored", n)
		}
	}
	if changed, err := d.Refresh(); err != nil || changed {
		t.Fatalf("Refresh without change = %v, %v", changed, err)
	}
	writeConfigMap(t, dir, "2", map[string]string{"GREL_LOCK_LEASE_DURATION": "45s", "GREL_X": "a"})
	if changed, err := d.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh after change = %v, %v", changed, err)
	}
	if v, _ := d.Lookup("GREL_LOCK_LEASE_DURATION"); v != "45s" {
		t.Fatalf("after refresh = %q", v)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Refresh(); err == nil {
		t.Fatal("Refresh of a removed directory succeeded")
	}
	if v, _ := d.Lookup("GREL_LOCK_LEASE_DURATION"); v != "45s" {
		t.Fatalf("a failed refresh lost the previous contents: %q", v)
	}
	if _, err := grelconfig.Dir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Dir of a missing directory succeeded")
	}
}
