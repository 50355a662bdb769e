package fxbackend

import (
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type fake struct{ id string }

func entry(name, provider string) Entry[*fake] {
	return Entry[*fake]{Name: name, Provider: provider, Backend: &fake{id: provider + "/" + name}}
}

// pick is one step: Pick(name) returns the backend id and provider, or an
// error containing err; logs is how many fallback lines the Set has logged
// after it.
type pick struct {
	name     string
	id       string
	provider string
	logs     int
}

func TestSet(t *testing.T) {
	const msg = "no test backend offered: using memory"
	tests := []struct {
		name    string
		entries []Entry[*fake]
		level   zapcore.Level
		newErr  string // NewSet's error contains it
		picks   []pick
		offered []string // the offered field of the fallback lines
	}{
		{
			name:  "no entries: one memory for every name, logged once per name",
			level: zapcore.WarnLevel,
			picks: []pick{
				{name: "", id: "memory", provider: "memory", logs: 1},
				{name: "", id: "memory", provider: "memory", logs: 1},
				{name: "primary", id: "memory", provider: "memory", logs: 2},
				{name: "primary", id: "memory", provider: "memory", logs: 2},
			},
			offered: []string{},
		},
		{
			name:    "the entry of the name wins; another name falls back",
			entries: []Entry[*fake]{entry("", "grelredis"), entry("primary", "grelpostgres")},
			level:   zapcore.InfoLevel,
			picks: []pick{
				{name: "", id: "grelredis/", provider: "grelredis"},
				{name: "primary", id: "grelpostgres/primary", provider: "grelpostgres"},
				{name: "other", id: "memory", provider: "memory", logs: 1},
				{name: "", id: "grelredis/", provider: "grelredis", logs: 1},
			},
			offered: []string{"(default) from grelredis", "primary from grelpostgres"},
		},
		{
			name:    "only a named entry: the default falls back",
			entries: []Entry[*fake]{entry("primary", "grelredis")},
			level:   zapcore.WarnLevel,
			picks: []pick{
				{name: "", id: "memory", provider: "memory", logs: 1},
				{name: "primary", id: "grelredis/primary", provider: "grelredis", logs: 1},
			},
			offered: []string{"primary from grelredis"},
		},
		{
			name:    "two defaults fail and say how to name one",
			entries: []Entry[*fake]{entry("", "grelsqlite"), entry("", "grelredis")},
			newErr:  `test: 2 providers offer the default test.Backend (grelredis, grelsqlite): keep one as the default and give the others a name (for example grelsqlite.Named("primary")), then pick a named backend per instance`,
		},
		{
			name:    "two of one name fail, whatever else is offered",
			entries: []Entry[*fake]{entry("", "grelsqlite"), entry("a", "grelredis"), entry("a", "grelkube")},
			newErr:  `test: 2 providers offer a test.Backend named "a" (grelkube, grelredis): names must be unique per pattern`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			made := 0
			s, err := NewSet("test", tt.entries, zap.New(core), Fallback[*fake]{
				New:     func() *fake { made++; return &fake{id: "memory"} },
				Level:   tt.level,
				Message: msg,
				Pattern: "test",
			})
			if tt.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.newErr) {
					t.Fatalf("NewSet: err = %v, want it to contain %q", err, tt.newErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSet: %v", err)
			}
			var memory *fake
			for i, p := range tt.picks {
				e, err := s.PickEntry(p.name)
				if err != nil {
					t.Fatalf("step %d: PickEntry(%q): %v", i, p.name, err)
				}
				if e.Backend.id != p.id || e.Provider != p.provider || e.Name != p.name {
					t.Fatalf("step %d: PickEntry(%q) = {%q, %q, %q}, want {%q, %q, %q}", i, p.name,
						e.Name, e.Provider, e.Backend.id, p.name, p.provider, p.id)
				}
				b, err := s.Pick(p.name)
				if err != nil || b != e.Backend {
					t.Fatalf("step %d: Pick(%q) = %v, %v, want the backend of PickEntry", i, p.name, b, err)
				}
				if p.id == "memory" {
					if memory != nil && b != memory {
						t.Fatalf("step %d: a second memory backend", i)
					}
					memory = b
				}
				if n := logs.Len(); n != p.logs {
					t.Fatalf("step %d: %d fallback lines, want %d", i, n, p.logs)
				}
			}
			if want := min(1, logs.Len()); made != want {
				t.Fatalf("memory made %d times, want %d", made, want)
			}
			for i, l := range logs.All() {
				if l.Level != tt.level || l.Message != msg {
					t.Fatalf("line %d: %v %q, want %v %q", i, l.Level, l.Message, tt.level, msg)
				}
				f := l.ContextMap()
				if f["pattern"] != "test" || f["backend"] != "memory" {
					t.Fatalf("line %d: fields %v, want pattern=test backend=memory", i, f)
				}
				if got := strings.Join(toStrings(f["offered"]), "; "); got != strings.Join(tt.offered, "; ") {
					t.Fatalf("line %d: offered %q, want %q", i, got, tt.offered)
				}
			}
		})
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestSetConcurrentFallback(t *testing.T) {
	var mu sync.Mutex
	made := 0
	s, err := NewSet[*fake]("test", nil, nil, Fallback[*fake]{
		New:   func() *fake { mu.Lock(); made++; mu.Unlock(); return &fake{id: "memory"} },
		Level: zapcore.WarnLevel,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]*fake, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			b, err := s.Pick("")
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	if made != 1 {
		t.Fatalf("memory made %d times, want 1", made)
	}
	for i, b := range got {
		if b != got[0] {
			t.Fatalf("pick %d got another backend", i)
		}
	}
}
