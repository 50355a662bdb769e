package fxbackend

import (
	"sync"

	grellog "github.com/grelmicro/grelmicro-go/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// MemoryProvider is the Provider of the entry [Set.PickEntry] returns for
// the memory fallback.
const MemoryProvider = "memory"

// Fallback is what a [Set] does for an instance whose backend name no entry
// has: it uses one memory backend, made on the first such instance and
// shared by all of them, and logs once per name that the state is local to
// this process.
type Fallback[B any] struct {
	// New makes the memory backend. It must not be nil.
	New func() B
	// Level is the level of the log line: warn where the pattern's promise
	// is across replicas (lock, rate limiter), info where local state is its
	// documented default (breaker).
	Level zapcore.Level
	// Message is the log line's message.
	Message string
	// Pattern is the log line's pattern field ("lock").
	Pattern string
}

// Set is the Backends offered to one pattern through its value group, as a
// pattern Module keeps them: checked once, picked by name for each
// instance, with a memory fallback. It is safe for concurrent use.
type Set[B any] struct {
	pkg      string
	entries  []Entry[B]
	log      *zap.Logger
	fallback Fallback[B]

	mu     sync.Mutex
	memory *B // made on the first fallback
	logged map[string]bool
}

// NewSet checks entries (two for one name is an error that says how to name
// one, prefixed with pkg, as [Select]'s) and returns the Set. A nil log is
// silent.
func NewSet[B any](pkg string, entries []Entry[B], log *zap.Logger, fallback Fallback[B]) (*Set[B], error) {
	if log == nil {
		log = zap.NewNop()
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		if _, _, _, err := Select(pkg, entries, e.Name); err != nil {
			return nil, err
		}
	}
	return &Set[B]{pkg: pkg, entries: entries, log: log, fallback: fallback, logged: map[string]bool{}}, nil
}

// Logger returns the Set's logger (silent when NewSet had none).
func (s *Set[B]) Logger() *zap.Logger { return s.log }

// Pick returns the Backend of the entry named name or, when there is none,
// the memory fallback.
func (s *Set[B]) Pick(name string) (B, error) {
	e, err := s.PickEntry(name)
	return e.Backend, err
}

// PickEntry is [Set.Pick] with the entry: its Provider says what offers
// the Backend, [MemoryProvider] for the fallback.
func (s *Set[B]) PickEntry(name string) (Entry[B], error) {
	b, provider, ok, err := Select(s.pkg, s.entries, name)
	if err != nil {
		return Entry[B]{}, err
	}
	if ok {
		return Entry[B]{Name: name, Provider: provider, Backend: b}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.memory == nil {
		m := s.fallback.New()
		s.memory = &m
	}
	if !s.logged[name] {
		s.logged[name] = true
		s.log.Log(s.fallback.Level, s.fallback.Message,
			zap.String(grellog.FieldPattern, s.fallback.Pattern), zap.String(grellog.FieldBackend, MemoryProvider),
			zap.String("backend_name", name), zap.Strings("offered", Names(s.entries)))
	}
	return Entry[B]{Name: name, Provider: MemoryProvider, Backend: *s.memory}, nil
}
