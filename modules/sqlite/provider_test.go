package grelsqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	"github.com/grelmicro/grelmicro-go/internal/providertest"
	"github.com/grelmicro/grelmicro-go/internal/testenv"
)

var counterSchema = []Migration{
	{Name: "test_0001_counter", SQL: "CREATE TABLE {{schema}}.counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO {{schema}}.counter VALUES (1, 0)"},
	{Name: "test_0002_writes", SQL: "CREATE TABLE {{schema}}.writes (who TEXT NOT NULL, i INTEGER NOT NULL)"},
}

func TestOpenAndPing(t *testing.T) {
	path := filepath.Join(filepath.Dir(testenv.SQLitePath(t)), "nested", "dir", "app.db")
	p, err := New("", WithPath(path), WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	ctx := context.Background()
	if err := p.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database file was not created: %v", err)
	}
	var mode string
	if err := p.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var busy int
	if err := p.DB().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(busySlice.Milliseconds()) {
		t.Fatalf("busy_timeout = %d, %v", busy, err)
	}
	if in := p.Instance(); in.DB != p.DB() || in.Path != path {
		t.Fatalf("Instance() = %+v", in)
	}
	providertest.RequireStopped(t, p, ErrStopped)
	if err := p.DB().PingContext(ctx); err == nil {
		t.Fatal("the owned database is open after Stop")
	}
}

func TestConfig(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"GREL_SQLITE_PATH":               "all.db",
		"GREL_SQLITE_AUDIT_PATH":         "audit.db",
		"GREL_SQLITE_AUDIT_BUSY_TIMEOUT": "1.5",
		"GREL_SQLITE_SYNCHRONOUS":        "full",
	}))
	tests := []struct {
		name string
		opts []Option
		want Config
	}{
		{"", nil, Config{Path: "all.db", BusyTimeout: 5 * time.Second, Synchronous: SynchronousFull, MaxOpenConns: 4, Migrate: true}},
		{"audit", nil, Config{Path: "audit.db", BusyTimeout: 1500 * time.Millisecond, Synchronous: SynchronousFull, MaxOpenConns: 4, Migrate: true}},
		{"audit", []Option{WithPath("code.db"), WithMaxOpenConns(1), WithMigrate(false), WithSynchronous(SynchronousNormal), WithBusyTimeout(time.Second)},
			Config{Path: "code.db", BusyTimeout: time.Second, Synchronous: SynchronousNormal, MaxOpenConns: 1, Migrate: false}},
	}
	for _, tt := range tests {
		p, err := New(tt.name, append([]Option{WithRegistry(reg)}, tt.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if p.Config() != tt.want {
			t.Errorf("%q: Config() = %+v, want %+v", tt.name, p.Config(), tt.want)
		}
		_ = p.Stop(context.Background())
	}
	if d := DefaultConfig(); d.Path != DefaultPath || !d.Migrate {
		t.Errorf("DefaultConfig() = %+v", d)
	}
	bad := []map[string]string{
		{"GREL_SQLITE_PATH": "x.db?mode=ro"},
		{"GREL_SQLITE_BUSY_TIMEOUT": "-7s"},
		{"GREL_SQLITE_SYNCHRONOUS": "sometimes"},
		{"GREL_SQLITE_MAX_OPEN_CONNS": "9999"},
	}
	for _, env := range bad {
		_, err := New("", WithRegistry(grelconfig.NewRegistry(grelconfig.Map(env))))
		if !errors.Is(err, grelconfig.ErrInvalid) {
			t.Errorf("%v: New = %v, want a grelconfig error", env, err)
			continue
		}
		for k, v := range env {
			if !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), v) {
				t.Errorf("error %q should name %s and not its value", err, k)
			}
		}
	}
	if _, err := NewFromConfig("", Config{}); !errors.Is(err, grelconfig.ErrInvalid) {
		t.Errorf("NewFromConfig(zero) = %v", err)
	}
	p, err := NewFromConfig("", DefaultConfig(), WithPath("over.db"))
	if err != nil || p.Path() != "over.db" {
		t.Fatalf("NewFromConfig with an option: %v, %v", p, err)
	}
	_ = p.Stop(context.Background())
}

func TestStartFailsOnUnopenableFile(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New("", WithPath(filepath.Join(blocker, "db.sqlite")), WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop(context.Background()) }()
	err = p.Start(context.Background())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("Start = %v, want an OpenError naming the path", err)
	}
}

func TestMigrate(t *testing.T) {
	db, err := Open(Config{Path: testenv.SQLitePath(t), BusyTimeout: 5 * time.Second, Synchronous: SynchronousNormal, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	count := func() int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ms := []Migration{
		{Name: "t_0002_rows", SQL: "INSERT INTO {{schema}}.things VALUES (1); INSERT INTO {{schema}}.things VALUES (2)"},
		{Name: "t_0001_table", SQL: "CREATE TABLE {{schema}}.things (n INTEGER PRIMARY KEY)"},
	}
	steps := []struct {
		name    string
		ms      []Migration
		wantErr string
		rows    int
	}{
		{"applies in name order", ms, "", 2},
		{"a second run applies nothing", ms, "", 2},
		{"a new migration applies alone", append(ms, Migration{Name: "t_0003", SQL: "INSERT INTO {{schema}}.things VALUES (3)"}), "", 3},
		{"a failing call rolls back whole", []Migration{
			{Name: "t_0004_ok", SQL: "INSERT INTO {{schema}}.things VALUES (4)"},
			{Name: "t_0005_bad", SQL: "INSERT INTO {{schema}}.nope VALUES (5)"},
		}, "migration t_0005_bad", 3},
		{"same name, different SQL", []Migration{{Name: "x", SQL: "SELECT 1"}, {Name: "x", SQL: "SELECT 2"}}, "different SQL", 3},
	}
	for _, st := range steps {
		err := Migrate(ctx, db, "", st.ms...)
		switch {
		case st.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr) || !errors.Is(err, ErrMigration)):
			t.Fatalf("%s: error %v, want one saying %q", st.name, err, st.wantErr)
		}
		if got := count(); got != st.rows {
			t.Fatalf("%s: %d rows, want %d", st.name, got, st.rows)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM grel_migrations").Scan(&n); err != nil || n != 3 {
		t.Fatalf("grel_migrations has %d rows (%v), want 3", n, err)
	}
}

// Two OS processes (this test binary, re-executed) and goroutines of this
// process write the same file at once: every write succeeds, none is lost,
// and "database is locked" never reaches a caller.
func TestTwoProcessesWrite(t *testing.T) {
	path := testenv.SQLitePath(t)
	p, err := New("", WithPath(path), WithMigrations(counterSchema...), WithRegistry(grelconfig.NewRegistry(grelconfig.Map(nil))))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Start(t, p)
	const processes, writes, goroutines = 2, 150, 2
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out []byte
		err error
	}
	results := make([]result, processes)
	var wg sync.WaitGroup
	for i := range processes {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), writerPathEnv+"="+path, writerWritesEnv+"="+strconv.Itoa(writes), writerIDEnv+"=proc"+strconv.Itoa(i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			err := cmd.Wait()
			results[i] = result{out.Bytes(), err}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	localErrs := make([]error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range writes {
				if err := increment(ctx, p.DB(), "local"+strconv.Itoa(g), i); err != nil {
					localErrs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || bytes.Contains(r.out, []byte("locked")) {
			t.Errorf("writer process %d: %v\n%s", i, r.err, r.out)
		}
	}
	for g, err := range localErrs {
		if err != nil {
			t.Errorf("local writer %d: %v", g, err)
		}
	}
	var n, rows int
	if err := p.DB().QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := p.DB().QueryRowContext(ctx, "SELECT count(*) FROM writes").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := (processes + goroutines) * writes; n != want || rows != want {
		t.Fatalf("counter = %d, rows = %d, want %d each (lost or failed writes)", n, rows, want)
	}
}

// A write lock held by another connection makes Write wait and retry, then
// succeed once the lock is released; held past the busy timeout, Write
// fails with ErrBusy; a done ctx ends the wait with ctx.Err().
func TestWriteWaitsForTheLock(t *testing.T) {
	path := testenv.SQLitePath(t)
	cfg := Config{Path: path, BusyTimeout: 800 * time.Millisecond, Synchronous: SynchronousNormal, MaxOpenConns: 2}
	a, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := Migrate(ctx, a, "", counterSchema...); err != nil {
		t.Fatal(err)
	}
	hold := func(d time.Duration) {
		t.Helper()
		conn, err := b.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(d, func() {
			_, _ = conn.ExecContext(ctx, "COMMIT")
			conn.Close()
		})
	}

	hold(300 * time.Millisecond)
	begin := time.Now()
	if err := increment(ctx, a, "a", 0); err != nil {
		t.Fatalf("Write with the lock held for 300ms: %v", err)
	}
	if waited := time.Since(begin); waited < 250*time.Millisecond {
		t.Fatalf("Write returned after %s while the lock was held", waited)
	}

	hold(1500 * time.Millisecond)
	err = increment(ctx, a, "a", 1)
	if !errors.Is(err, ErrBusy) || !IsBusy(err) {
		t.Fatalf("Write with the lock held past the busy timeout = %v, want ErrBusy", err)
	}
	time.Sleep(1600 * time.Millisecond)

	hold(time.Second)
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	begin = time.Now()
	if err := increment(short, a, "a", 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write with a 150ms ctx = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(begin); took > busySlice+300*time.Millisecond {
		t.Fatalf("Write took %s past its ctx", took)
	}
	time.Sleep(1100 * time.Millisecond)
}
