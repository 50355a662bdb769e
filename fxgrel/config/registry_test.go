package grelconfig_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// live is a reloadable instance as patterns build them.
type live struct {
	mu  sync.Mutex
	cfg testConfig
	grelconfig.Reloadable
}

func newLive(t *testing.T, reg *grelconfig.Registry, name string, settings ...grelconfig.Setting[testConfig]) *live {
	t.Helper()
	cfg, err := spec.Resolve(reg, name, settings...)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{cfg: cfg}
	l.Reloadable = spec.Bind(name, settings, l.Reconfigure)
	return l
}

func (l *live) Reconfigure(c testConfig) error {
	if err := spec.Validate(c); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.Worker != l.cfg.Worker {
		return errors.New("test: Worker cannot change")
	}
	l.cfg = c
	return nil
}

func (l *live) get() testConfig {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

func TestReload(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(withBase(nil)))
	a := newLive(t, reg, "a")
	b := newLive(t, reg, "b", attemptF.Set(9))
	unA := reg.Register(a)
	reg.Register(b)
	if got := reg.Live(); len(got) != 2 || got[0].String() != "TEST/a" {
		t.Fatalf("Live = %v", got)
	}

	steps := []struct {
		name    string
		env     map[string]string
		wantErr []string // instances refusing
		aLease  time.Duration
		bLease  time.Duration
		bTries  int
	}{
		{"kind value reaches both", map[string]string{"GREL_TEST_LEASE_DURATION": "40s"}, nil, 40 * time.Second, 40 * time.Second, 9},
		{"option still wins on reload", map[string]string{"GREL_TEST_MAX_ATTEMPTS": "5", "GREL_TEST_B_LEASE_DURATION": "50s"}, nil, 30 * time.Second, 50 * time.Second, 9},
		{"bad value refused for one instance only", map[string]string{"GREL_TEST_A_LEASE_DURATION": "nope", "GREL_TEST_B_LEASE_DURATION": "55s"}, []string{"TEST/a"}, 30 * time.Second, 55 * time.Second, 9},
		{"rule broken: running config stays", map[string]string{"GREL_TEST_LEASE_DURATION": "1s"}, []string{"TEST/a", "TEST/b"}, 30 * time.Second, 55 * time.Second, 9},
		{"identity change refused by the instance", map[string]string{"GREL_TEST_WORKER": "w2", "GREL_TEST_B_WORKER": "w1", "GREL_TEST_LEASE_DURATION": "33s"}, []string{"TEST/a"}, 30 * time.Second, 33 * time.Second, 9},
	}
	for _, st := range steps {
		env := withBase(st.env)
		err := reg.Reload(grelconfig.Map(env))
		var refused []string
		for _, e := range unjoin(err) {
			var re *grelconfig.ReloadError
			if !errors.As(e, &re) {
				t.Fatalf("%s: error %v is not a ReloadError", st.name, e)
			}
			refused = append(refused, re.Key.String())
			if strings.Contains(e.Error(), "nope") {
				t.Fatalf("%s: error repeats the value: %v", st.name, e)
			}
		}
		if strings.Join(refused, ",") != strings.Join(st.wantErr, ",") {
			t.Fatalf("%s: refused %v, want %v (err %v)", st.name, refused, st.wantErr, err)
		}
		if got := a.get().Lease; got != st.aLease {
			t.Fatalf("%s: a lease = %v, want %v", st.name, got, st.aLease)
		}
		if got := b.get(); got.Lease != st.bLease || got.Attempts != st.bTries {
			t.Fatalf("%s: b = %v/%d, want %v/%d", st.name, got.Lease, got.Attempts, st.bLease, st.bTries)
		}
	}
	// Describe shows what is running for b.
	for _, e := range reg.Describe() {
		if e.Instance == "b" && e.Field == "LeaseDuration" && e.Value != "33s" {
			t.Fatalf("describe b lease = %q", e.Value)
		}
	}
	unA()
	if got := reg.Live(); len(got) != 1 {
		t.Fatalf("after unregister Live = %v", got)
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestWatchAppliesDirectoryChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "GREL_TEST_LEASE_DURATION"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("40s")
	synctest.Test(t, func(t *testing.T) {
		d, err := grelconfig.Dir(dir)
		if err != nil {
			t.Fatal(err)
		}
		reg := grelconfig.NewRegistry(grelconfig.Layered(d, grelconfig.Map(withBase(nil))))
		l := newLive(t, reg, "w")
		reg.Register(l)
		if l.get().Lease != 40*time.Second {
			t.Fatalf("initial lease %v", l.get().Lease)
		}
		ctx, cancel := context.WithCancel(t.Context())
		results := make(chan error, 10)
		done := make(chan error)
		go func() { done <- reg.Watch(ctx, d, time.Second, func(err error) { results <- err }) }()

		write("50s")
		time.Sleep(time.Second)
		synctest.Wait()
		if err := <-results; err != nil {
			t.Fatalf("reload: %v", err)
		}
		if l.get().Lease != 50*time.Second {
			t.Fatalf("lease after change = %v", l.get().Lease)
		}
		write("garbage")
		time.Sleep(time.Second)
		synctest.Wait()
		if err := <-results; err == nil || !strings.Contains(err.Error(), "GREL_TEST_LEASE_DURATION") || strings.Contains(err.Error(), "garbage") {
			t.Fatalf("bad value reload err = %v (must name the variable, never the value)", err)
		}
		if l.get().Lease != 50*time.Second {
			t.Fatalf("a refused value changed the lease: %v", l.get().Lease)
		}
		// Nothing changed: no reload.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		select {
		case err := <-results:
			t.Fatalf("unexpected reload: %v", err)
		default:
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch returned %v", err)
		}
	})
	reg := grelconfig.NewRegistry(nil)
	if err := reg.Watch(t.Context(), nil, 0, nil); err == nil {
		t.Fatal("Watch with interval 0 succeeded")
	}
}
