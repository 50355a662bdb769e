package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The variables scripts/testenv exports.
const (
	redisURLVar    = "GREL_TEST_REDIS_URL"
	postgresURLVar = "GREL_TEST_POSTGRES_URL"
	kubeconfigVar  = "GREL_TEST_KUBECONFIG"
	redisServerVar = "GREL_TEST_REDIS_SERVER" // path of redis-server, for StartRedis
	pgBinVar       = "GREL_TEST_PG_BIN"       // folder of initdb and postgres, for StartPostgres
	pgbouncerVar   = "GREL_TEST_PGBOUNCER"    // path of pgbouncer, for StartPgBouncer
	// stateDirVar names the testenv state folder whose env file is read when
	// a variable is not in the process environment (default <repo>/.testenv).
	stateDirVar = "GREL_TESTENV_DIR"
)

// modulePath is the module whose root holds .testenv.
const modulePath = "github.com/grelmicro/grelmicro-go"

// startHint is how a developer brings the servers up.
const startHint = "start it with: scripts/testenv start"

// pingTimeout bounds the reachability check of a shared server.
const pingTimeout = 2 * time.Second

// InCI reports whether the CI variable holds a true value (1, t, true, y,
// yes, on, in any case). Under CI a missing server fails the test.
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// lookup returns a GREL_TEST_* value from the process environment, else from
// the testenv env file, and says where it looked.
func lookup(key string) (value, where string) {
	if v := os.Getenv(key); v != "" {
		return v, "$" + key
	}
	path := envFilePath()
	if path == "" {
		return "", "$" + key + " (unset; no " + modulePath + " go.mod above the working directory)"
	}
	vals, err := readEnvFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "$" + key + " (unset, and no " + path + ")"
	}
	if err != nil {
		return "", "$" + key + " (unset; " + path + ": " + err.Error() + ")"
	}
	if v := vals[key]; v != "" {
		return v, path
	}
	return "", "$" + key + " (unset, and not in " + path + ")"
}

func envFilePath() string {
	if d := os.Getenv(stateDirVar); d != "" {
		return filepath.Join(d, "env")
	}
	root, ok := repoRoot()
	if !ok {
		return ""
	}
	return filepath.Join(root, ".testenv", "env")
}

// repoRoot walks up from the working directory to the folder whose go.mod
// declares modulePath (so bench/, its own module, is passed over).
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if modFileDeclares(filepath.Join(dir, "go.mod"), modulePath) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func modFileDeclares(path, module string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = rest[:i]
		}
		return strings.Trim(strings.TrimSpace(rest), `"`+"`") == module
	}
	return false
}

// readEnvFile parses KEY=VALUE lines; blank lines and # comments are
// skipped, an optional "export " and quotes around the value are removed.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseEnv(bufio.NewScanner(f))
}

func parseEnv(sc *bufio.Scanner) (map[string]string, error) {
	vals := map[string]string{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vals[k] = v
	}
	return vals, sc.Err()
}

// unavailable skips the test (locally) or fails it (under CI) because a
// server is absent.
func unavailable(t testing.TB, server, where string, err error) {
	t.Helper()
	msg := fmt.Sprintf("grelmicro testenv: %s not available at %s", server, where)
	if err != nil {
		msg += ": " + err.Error()
	}
	msg += "; " + startHint
	if InCI() {
		t.Fatal(msg + " (CI is set: a missing server fails the test)")
	}
	t.Skip(msg)
}

// randomHex returns 2n lower-case hex characters.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
