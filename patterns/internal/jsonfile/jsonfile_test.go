//go:build unix

package jsonfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	type state map[string]int
	steps := []struct {
		name  string
		write bool
		add   int
		want  int // the value of "n" fn sees
	}{
		{name: "an empty file leaves the value as given", write: true, add: 1, want: 0},
		{name: "what was written is read back", write: true, add: 2, want: 1},
		{name: "fn that returns false writes nothing", write: false, add: 100, want: 3},
		{name: "so the next update sees the last write", write: true, add: 1, want: 3},
	}
	for _, s := range steps {
		st := state{}
		err := Update(path, &st, func(v *state) bool {
			if (*v)["n"] != s.want {
				t.Fatalf("%s: read n=%d, want %d", s.name, (*v)["n"], s.want)
			}
			(*v)["n"] += s.add
			return s.write
		})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
}

func TestUpdateBadJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	ran := false
	var v map[string]int
	err := Update(path, &v, func(*map[string]int) bool { ran = true; return true })
	var syntax *json.SyntaxError
	if ran || !errors.As(err, &syntax) {
		t.Fatalf("Update on bad JSON = %v (fn ran: %v), want the JSON error and fn not run", err, ran)
	}
}

// TestUpdateExclusive: concurrent updates, each on its own descriptor (as
// separate processes would be), lose none.
func TestUpdateExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			v := map[string]int{}
			if err := Update(path, &v, func(v *map[string]int) bool { (*v)["n"]++; return true }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	v := map[string]int{}
	if err := Update(path, &v, func(*map[string]int) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if v["n"] != n {
		t.Fatalf("n = %d after %d updates", v["n"], n)
	}
}
