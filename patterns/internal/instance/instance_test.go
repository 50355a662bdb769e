package instance

import (
	"errors"
	"strings"
	"testing"
	"time"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

type config struct {
	Size  int
	Delay time.Duration
}

var (
	spec      = grelconfig.NewSpec[config]("INSTANCETEST")
	sizeField = spec.Int("SIZE", func(c *config) *int { return &c.Size }, 10, grelconfig.Positive[int]())
	_         = spec.Duration("DELAY", func(c *config) *time.Duration { return &c.Delay }, time.Second, grelconfig.Positive[time.Duration]())
)

type options struct{ got []string }

type option func(*options)

func TestCollect(t *testing.T) {
	add := func(s string) option { return func(o *options) { o.got = append(o.got, s) } }
	o := Collect(&options{got: []string{"default"}}, []option{add("a"), nil, add("b")})
	if got := strings.Join(o.got, " "); got != "default a b" {
		t.Fatalf("applied %q, want %q", got, "default a b")
	}
}

func TestFromConfig(t *testing.T) {
	double := func(c config) config { c.Delay *= 2; return c }
	tests := []struct {
		name      string
		instance  string
		cfg       config
		settings  []grelconfig.Setting[config]
		normalize func(config) config
		want      config
		err       string
	}{
		{name: "as given", instance: "a", cfg: config{Size: 3, Delay: time.Second}, want: config{Size: 3, Delay: time.Second}},
		{name: "settings on top, in order", instance: "a", cfg: config{Size: 3, Delay: time.Second},
			settings: []grelconfig.Setting[config]{sizeField.Set(5), sizeField.Set(7)}, want: config{Size: 7, Delay: time.Second}},
		{name: "normalized after the settings", instance: "", cfg: config{Size: 3, Delay: time.Second},
			settings: []grelconfig.Setting[config]{sizeField.Set(4)}, normalize: double, want: config{Size: 4, Delay: 2 * time.Second}},
		{name: "validated", instance: "a", cfg: config{Size: 0, Delay: time.Second}, err: "Size"},
		{name: "a setting can make it valid", instance: "a", cfg: config{Size: 0, Delay: time.Second},
			settings: []grelconfig.Setting[config]{sizeField.Set(1)}, want: config{Size: 1, Delay: time.Second}},
		{name: "a name with no letter or digit", instance: "--", cfg: config{Size: 3, Delay: time.Second}, err: "invalid instance name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromConfig(spec, tt.instance, tt.cfg, tt.settings, tt.normalize)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FromConfig = %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	cause := errors.New("bad")
	tests := []struct{ name, want string }{
		{name: "", want: "grelthing: bad"},
		{name: "payments", want: `grelthing: thing "payments": bad`},
	}
	for _, tt := range tests {
		err := Error("grelthing", "thing", tt.name, cause)
		if err.Error() != tt.want || !errors.Is(err, cause) {
			t.Fatalf("Error(%q) = %q (Is cause: %v), want %q wrapping the cause", tt.name, err, errors.Is(err, cause), tt.want)
		}
	}
}
