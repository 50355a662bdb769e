package provider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTagAndCheckName(t *testing.T) {
	tests := []struct {
		name, tag, check string
	}{
		{"", "", "redis"},
		{"cart", `name:"cart"`, "redis:cart"},
		{`a"b`, `name:"a\"b"`, `redis:a"b`},
	}
	for _, tt := range tests {
		if got := Tag(tt.name); got != tt.tag {
			t.Errorf("Tag(%q) = %q, want %q", tt.name, got, tt.tag)
		}
		if got := CheckName("redis", tt.name); got != tt.check {
			t.Errorf("CheckName(redis, %q) = %q, want %q", tt.name, got, tt.check)
		}
	}
}

func TestBeforeDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tests := []struct {
			name    string
			timeout time.Duration // 0: no deadline
			want    time.Duration // time left in the returned ctx
		}{
			{"a tenth of a short budget", time.Second, 900 * time.Millisecond},
			{"at most 250ms", 10 * time.Second, 10*time.Second - 250*time.Millisecond},
		}
		for _, tt := range tests {
			parent, cancel := context.WithTimeout(context.Background(), tt.timeout)
			ctx, stop := BeforeDeadline(parent)
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) != tt.want {
				t.Errorf("%s: %v left, want %v", tt.name, time.Until(dl), tt.want)
			}
			stop()
			cancel()
		}
		ctx, stop := BeforeDeadline(context.Background())
		if _, ok := ctx.Deadline(); ok {
			t.Error("a deadline appeared on a ctx without one")
		}
		stop()
		if ctx.Err() == nil {
			t.Error("the returned cancel does not cancel")
		}
	})
}

func TestJoinCtxErr(t *testing.T) {
	dial := errors.New("i/o timeout")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		canceled bool
	}{
		{"live ctx: err as it is", context.Background(), dial, false},
		{"done ctx: joined", done, dial, true},
		{"done ctx, err is ctx's: as it is", done, context.Canceled, true},
	}
	for _, tt := range tests {
		got := JoinCtxErr(tt.ctx, tt.err)
		if !errors.Is(got, tt.err) || errors.Is(got, context.Canceled) != tt.canceled {
			t.Errorf("%s: %v", tt.name, got)
		}
		if tt.err == context.Canceled && got != tt.err { //nolint:errorlint // identity is the point
			t.Errorf("%s: %v wrapped again", tt.name, got)
		}
	}
}

func TestState(t *testing.T) {
	notStarted, stopped := errors.New("not started"), errors.New("stopped")
	var s State
	if s.Stopped() || s.Gate(notStarted, stopped) != notStarted { //nolint:errorlint // identity is the point
		t.Fatalf("the zero value: stopped %v, gate %v; want not started", s.Stopped(), s.Gate(notStarted, stopped))
	}
	s.MarkStarted()
	if err := s.Gate(notStarted, stopped); err != nil {
		t.Fatalf("gate after MarkStarted = %v, want nil", err)
	}
	runs := 0
	for range 3 {
		s.Stop(func() {
			runs++
			if !s.Stopped() {
				t.Error("release runs before Stopped is true")
			}
		})
	}
	if runs != 1 || !s.Stopped() {
		t.Fatalf("release ran %d times, stopped %v", runs, s.Stopped())
	}
	s.MarkStarted()
	if err := s.Gate(notStarted, stopped); err != stopped { //nolint:errorlint // identity is the point
		t.Fatalf("gate after Stop = %v, want stopped (MarkStarted after Stop changes nothing)", err)
	}
	var never State
	never.Stop(func() {})
	if err := never.Gate(notStarted, stopped); err != stopped { //nolint:errorlint // identity is the point
		t.Fatalf("gate after Stop without Start = %v, want stopped", err)
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"", true},
		{"cache", true},
		{"cart-v2", true},
		{"eu.west_1", true},
		{"A9", true},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("a", MaxNameLen+1), false},
		{"eu west", false},
		{"-x", false},
		{"_x", false},
		{"--", false},
		{"a:b", false},
		{"a,b", false},
		{"a/b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := ValidateName("greltest", tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if err == nil {
			// What the rule promises: the name normalises and makes a
			// valid check name.
			if _, nerr := grelconfig.NormalizeName(tt.name); nerr != nil {
				t.Errorf("%q passed but does not normalise: %v", tt.name, nerr)
			}
			continue
		}
		var ne *NameError
		if !errors.As(err, &ne) || !errors.Is(err, grelconfig.ErrInvalidName) ||
			!strings.HasPrefix(err.Error(), "greltest: instance name ") || !strings.Contains(err.Error(), NameRule) {
			t.Errorf("ValidateName(%q) = %v, want a *NameError matching ErrInvalidName", tt.name, err)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"cache", "eu west", "a-b.c_d", "--", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName("greltest", name) != nil || name == "" {
			return
		}
		if _, err := grelconfig.NormalizeName(name); err != nil {
			t.Fatalf("%q passed but does not normalise: %v", name, err)
		}
		if check := CheckName("postgresql", name); len(check) > 128 || strings.ContainsAny(check, " ,/?#") {
			t.Fatalf("%q passed but makes the check name %q", name, check)
		}
	})
}

func TestUnreachable(t *testing.T) {
	cause := errors.New("connection refused")
	if got, want := Unreachable("grelredis", "cannot reach", "redis://h:6379/0", "", cause),
		"grelredis: cannot reach redis://h:6379/0: connection refused"; got != want {
		t.Errorf("default instance: %q, want %q", got, want)
	}
	if got, want := Unreachable("grelsqlite", "cannot open", "/data/app.db", "audit", cause),
		"grelsqlite: cannot open /data/app.db (instance audit): connection refused"; got != want {
		t.Errorf("named instance: %q, want %q", got, want)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"redis://:hunter2@h:6379/0", "redis://:xxxxx@h:6379/0", true},
		{"  postgres://u:hunter2@h/db  ", "postgres://u:xxxxx@h/db", true},
		{"redis://user@h", "redis://user@h", true},
		{"redis://h/0?password=hunter2&db=1", "redis://h/0?db=1&password=xxxxx", true},
		{"redis://h/0?sentinel_password=hunter2", "redis://h/0?sentinel_password=hunter2", true}, // not in secrets
		{"redis://h/0?%zz", "redis://h/0?xxxxx", true},
		{"redis://u:hun/ter2@h/0", "redis://xxxxx", true},
		{"redis://u:a@b@h/0", "redis://u:xxxxx@h/0", true},
		{"redis://:hunter2@h/0#frag", "redis://:xxxxx@h/0", true},
		{"host=h password=hunter2", "", false},
	}
	for _, tt := range tests {
		got, ok := RedactURL(tt.in, "password")
		if got != tt.want || ok != tt.ok {
			t.Errorf("RedactURL(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSplitAuthority(t *testing.T) {
	tests := []struct{ rest, userinfo, hosts, tail string }{
		{"h1:26379,h2/master/0?db=1", "", "h1:26379,h2", "/master/0?db=1"},
		{"u:p@h1,h2", "u:p@", "h1,h2", ""},
		{"u:a@b@h#frag", "u:a@b@", "h", "#frag"},
		{"", "", "", ""},
		{"h?x=@", "", "h", "?x=@"},
	}
	for _, tt := range tests {
		u, h, tail := SplitAuthority(tt.rest)
		if u != tt.userinfo || h != tt.hosts || tail != tt.tail {
			t.Errorf("SplitAuthority(%q) = %q, %q, %q; want %q, %q, %q", tt.rest, u, h, tail, tt.userinfo, tt.hosts, tt.tail)
		}
	}
}

func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"redis://:p@h/0", "postgres://u:p@h1,h2/db?password=p", "a://u:p/x@h", "x://:p@"} {
		f.Add(s)
	}
	const mark = "Zq9secretZq9"
	f.Fuzz(func(t *testing.T, raw string) {
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok || strings.Contains(rest, mark) || strings.ContainsAny(scheme, "@") {
			return
		}
		// Put the password where a URL keeps it: in the user info and in
		// a secret query parameter.
		withPass := scheme + "://u:" + mark + "@" + rest
		if got, _ := RedactURL(withPass, "password"); strings.Contains(got, mark) {
			t.Fatalf("RedactURL(%q) = %q leaks the password", withPass, got)
		}
		if strings.ContainsAny(rest, "?#") {
			return
		}
		withQuery := raw + "?password=" + mark
		if got, _ := RedactURL(withQuery, "password"); strings.Contains(got, mark) {
			t.Fatalf("RedactURL(%q) = %q leaks the password", withQuery, got)
		}
	})
}
