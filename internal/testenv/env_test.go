package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestInCI(t *testing.T) {
	tests := []struct {
		ci   string
		want bool
	}{
		{"", false},
		{"true", true},
		{"TRUE", true},
		{"1", true},
		{"yes", true},
		{" on ", true},
		{"false", false},
		{"0", false},
		{"no", false},
		{"maybe", false},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		if got := InCI(); got != tt.want {
			t.Errorf("CI=%q: InCI() = %v, want %v", tt.ci, got, tt.want)
		}
	}
}

func TestParseEnv(t *testing.T) {
	in := `# written by scripts/testenv
GREL_TEST_REDIS_URL=redis://127.0.0.1:6390/0

export GREL_TEST_KUBECONFIG="/a b/kubeconfig"
GREL_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5440/postgres?sslmode=disable&x=y'
not a pair
EMPTY=
`
	got, err := parseEnv(bufio.NewScanner(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GREL_TEST_REDIS_URL":    "redis://127.0.0.1:6390/0",
		"GREL_TEST_KUBECONFIG":   "/a b/kubeconfig",
		"GREL_TEST_POSTGRES_URL": "postgres://postgres@127.0.0.1:5440/postgres?sslmode=disable&x=y",
		"EMPTY":                  "",
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestModFileDeclares(t *testing.T) {
	tests := []struct {
		gomod string
		want  bool
	}{
		{"module github.com/grelmicro/grelmicro-go\n\ngo 1.26.0\n", true},
		{"// comment\nmodule \"github.com/grelmicro/grelmicro-go\" // trailing\n", true},
		{"module github.com/grelmicro/grelmicro-go/bench\n", false},
		{"modules github.com/grelmicro/grelmicro-go\n", false},
		{"go 1.26.0\n", false},
	}
	for i, tt := range tests {
		path := filepath.Join(t.TempDir(), "go.mod")
		if err := os.WriteFile(path, []byte(tt.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := modFileDeclares(path, modulePath); got != tt.want {
			t.Errorf("%d: modFileDeclares(%q) = %v, want %v", i, tt.gomod, got, tt.want)
		}
	}
}

func TestRepoRootFromThisPackage(t *testing.T) {
	root, ok := repoRoot()
	if !ok {
		t.Fatal("repoRoot found no go.mod of " + modulePath)
	}
	wd, _ := os.Getwd()
	if filepath.Join(root, "internal", "testenv") != wd {
		t.Fatalf("repoRoot() = %s, want the folder two levels above %s", root, wd)
	}
}

func TestLookupPrefersTheEnvironmentOverTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte("GREL_TEST_REDIS_URL=redis://from-file:1/0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(stateDirVar, dir)

	t.Setenv(redisURLVar, "")
	if v, where := lookup(redisURLVar); v != "redis://from-file:1/0" || where != filepath.Join(dir, "env") {
		t.Fatalf("from the file: lookup = %q, %q", v, where)
	}
	t.Setenv(redisURLVar, "redis://from-env:1/0")
	if v, where := lookup(redisURLVar); v != "redis://from-env:1/0" || where != "$"+redisURLVar {
		t.Fatalf("from the environment: lookup = %q, %q", v, where)
	}
	t.Setenv(postgresURLVar, "")
	if v, where := lookup(postgresURLVar); v != "" || !strings.Contains(where, "not in") {
		t.Fatalf("absent: lookup = %q, %q", v, where)
	}
}

func TestWithSearchPath(t *testing.T) {
	tests := []struct{ base, want string }{
		{"postgres://postgres@127.0.0.1:5440/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5440/postgres?search_path=t_1&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?search_path=t_1"},
		{"host=h port=5 user=u", "host=h port=5 user=u search_path=t_1"},
	}
	for _, tt := range tests {
		if got := withSearchPath(tt.base, "t_1"); got != tt.want {
			t.Errorf("withSearchPath(%q) = %q, want %q", tt.base, got, tt.want)
		}
	}
}

// recorder stands in for a test to observe Skip and Fatal: like the real
// ones, they end the calling goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped, r.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)         { r.failed, r.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skipf(f string, a ...any)  { r.Skip(fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Fatal(fmt.Sprintf(f, a...)) }

func record(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

// TestAbsentServerSkipsLocallyAndFailsInCI points every helper at a port
// where nothing listens, and at no configuration at all.
func TestAbsentServerSkipsLocallyAndFailsInCI(t *testing.T) {
	dead := t.TempDir()
	kubeconfig := filepath.Join(dead, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	helpers := []struct {
		name, variable, deadValue, server string
		call                              func(testing.TB)
	}{
		{"Redis", redisURLVar, "redis://127.0.0.1:1/0", "Redis", func(tb testing.TB) { Redis(tb) }},
		{"Postgres", postgresURLVar, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", "PostgreSQL", func(tb testing.TB) { Postgres(tb) }},
		{"Kube", kubeconfigVar, kubeconfig, "kube-apiserver", func(tb testing.TB) { Kube(tb) }},
	}
	for _, h := range helpers {
		for _, unset := range []bool{false, true} {
			for _, ci := range []string{"", "true"} {
				t.Run(fmt.Sprintf("%s/unset=%v/CI=%s", h.name, unset, ci), func(t *testing.T) {
					t.Setenv("CI", ci)
					t.Setenv(stateDirVar, t.TempDir()) // no env file there
					if unset {
						t.Setenv(h.variable, "")
					} else {
						t.Setenv(h.variable, h.deadValue)
					}
					r := record(t, h.call)
					if ci == "" && (!r.skipped || r.failed) {
						t.Fatalf("locally: skipped=%v failed=%v (%s), want a skip", r.skipped, r.failed, r.msg)
					}
					if ci != "" && (!r.failed || r.skipped) {
						t.Fatalf("under CI: skipped=%v failed=%v (%s), want a failure", r.skipped, r.failed, r.msg)
					}
					wantStart := "grelmicro testenv: " + h.server + " not available at "
					if !strings.HasPrefix(r.msg, wantStart) || !strings.Contains(r.msg, "start it with: scripts/testenv start") {
						t.Fatalf("message = %q, want it to start with %q and say how to start the servers", r.msg, wantStart)
					}
					if unset && !strings.Contains(r.msg, h.variable) {
						t.Fatalf("message = %q, want it to name %s", r.msg, h.variable)
					}
				})
			}
		}
	}
}

// FuzzParseEnv: a KEY=VALUE line written the way scripts/testenv writes it
// reads back as the same pair, whatever the value holds.
func FuzzParseEnv(f *testing.F) {
	f.Add("GREL_TEST_REDIS_URL", "redis://127.0.0.1:6390/0")
	f.Add("GREL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5440/postgres?sslmode=disable")
	f.Add("K", `"quoted"`)
	f.Add("K", "a=b=c")
	f.Fuzz(func(t *testing.T, key, value string) {
		if !validKey(key) ||
			strings.ContainsAny(value, "\r\n") || value != strings.TrimSpace(value) {
			t.Skip("not a line scripts/testenv writes")
		}
		got, err := parseEnv(bufio.NewScanner(strings.NewReader(key + "=" + value + "\n")))
		if err != nil {
			t.Fatal(err)
		}
		want := value
		if len(want) >= 2 && (want[0] == '"' || want[0] == '\'') && want[len(want)-1] == want[0] {
			want = want[1 : len(want)-1]
		}
		if len(got) != 1 || got[key] != want {
			t.Fatalf("parseEnv(%q) = %v, want {%s: %q}", key+"="+value, got, key, want)
		}
	})
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
