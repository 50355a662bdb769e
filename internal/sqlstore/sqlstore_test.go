package sqlstore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// migration has the shape of the providers' Migration types.
type migration struct {
	Name string
	SQL  string
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      []migration
		want    string // names in order
		wantErr string
	}{
		{"sorted by name", []migration{{"b", "2"}, {"a", "1"}, {"c", "3"}}, "a,b,c", ""},
		{"exact duplicates dropped", []migration{{"a", "1"}, {"b", "2"}, {"a", "1"}}, "a,b", ""},
		{"none", nil, "", ""},
		{"one name, two SQL texts", []migration{{"a", "1"}, {"a", "2"}}, "", "two migrations named a have different SQL"},
		{"no name", []migration{{"", "1"}}, "", "a migration has no name"},
	}
	for _, tt := range tests {
		in := append([]migration(nil), tt.in...)
		got, err := Normalize(in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		var names []string
		for _, m := range got {
			names = append(names, m.Name)
		}
		if err != nil || strings.Join(names, ",") != tt.want {
			t.Errorf("%s: %v, %v; want %s", tt.name, names, err, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("%s: the input was reordered", tt.name)
			}
		}
	}
}

func TestExpandAndChecksum(t *testing.T) {
	if got := Expand("CREATE TABLE {{schema}}.t (); DROP TABLE {{schema}}.u", `"my s"`); got != `CREATE TABLE "my s".t (); DROP TABLE "my s".u` {
		t.Errorf("Expand = %q", got)
	}
	// SHA-256 of "SELECT 1".
	if got := Checksum("SELECT 1"); got != "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5" {
		t.Errorf("Checksum = %q", got)
	}
}

func TestSweeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		var bounded atomic.Bool
		s := StartSweeper(func(ctx context.Context) (int64, error) {
			dl, ok := ctx.Deadline()
			bounded.Store(ok && time.Until(dl) == time.Minute)
			calls.Add(1)
			return 0, errors.New("test: sweep failed") // retried at the next tick
		}, time.Minute)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if calls.Load() != 0 {
			t.Fatalf("%d sweeps before the first interval", calls.Load())
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if calls.Load() != 3 || !bounded.Load() {
			t.Fatalf("%d sweeps in 3.5 intervals (bounded by one interval: %v), want 3", calls.Load(), bounded.Load())
		}
		s.Close()
		time.Sleep(time.Hour)
		if calls.Load() != 3 {
			t.Fatalf("sweeps after Close: %d", calls.Load())
		}
	})
}

func TestSweepHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		closed := 0
		sweep := func(context.Context) (int64, error) { calls.Add(1); return 1, nil }
		h := SweepHook(sweep, time.Second, func() error { closed++; return errors.New("test: close") })
		// Stopped without a start: the backend is still released.
		if err := h.OnStop(context.Background()); err == nil || closed != 1 {
			t.Fatalf("OnStop before OnStart = %v, closed %d", err, closed)
		}
		h = SweepHook(sweep, time.Second, nil)
		if err := h.OnStart(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		if err := h.OnStop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 2 {
			t.Fatalf("%d sweeps in 2.5 intervals, want 2", calls.Load())
		}
	})
}

func TestMigrationsGroup(t *testing.T) {
	var got struct {
		fx.In
		Ms []migration `group:"test.migrations"`
	}
	app := fxtest.New(t, fx.NopLogger,
		Migrations("test.migrations", []migration{{"a", "1"}, {"b", "2"}}),
		Migrations("test.migrations", []migration{{"c", "3"}}),
		fx.Populate(&got))
	app.RequireStart()
	app.RequireStop()
	ms, err := Normalize(got.Ms)
	if err != nil || len(ms) != 3 || ms[0].Name != "a" || ms[2].Name != "c" {
		t.Fatalf("group = %v (%v), want the three migrations flattened", got.Ms, err)
	}
}
