package greltrace_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

func TestLoadConfig(t *testing.T) {
	otlp := []greltrace.Exporter{greltrace.ExporterOTLP}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c greltrace.Config)
		wantErr []string // the variables the error names
		secret  string   // a value the error must not contain
	}{
		{name: "nothing set: no exporter", check: func(t *testing.T, c greltrace.Config) {
			if !reflect.DeepEqual(c, greltrace.DefaultConfig()) {
				t.Errorf("got %+v, want the defaults", c)
			}
		}},
		{name: "an endpoint turns OTLP on for both signals", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			check: func(t *testing.T, c greltrace.Config) {
				if !slices.Equal(c.TracesExporters, otlp) || !slices.Equal(c.MetricsExporters, otlp) || c.Endpoint != "http://collector:4318" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "a traces endpoint turns OTLP on for traces only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c/v1/traces"},
			check: func(t *testing.T, c greltrace.Config) {
				if !slices.Equal(c.TracesExporters, otlp) || len(c.MetricsExporters) != 0 {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "explicit none wins over an endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
			check: func(t *testing.T, c greltrace.Config) {
				if len(c.TracesExporters) != 0 || !slices.Equal(c.MetricsExporters, otlp) {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "lists, case-insensitive, deduplicated", env: map[string]string{"OTEL_TRACES_EXPORTER": "OTLP, console,otlp", "OTEL_METRICS_EXPORTER": "console"},
			check: func(t *testing.T, c greltrace.Config) {
				if !slices.Equal(c.TracesExporters, []greltrace.Exporter{"otlp", "console"}) || !slices.Equal(c.MetricsExporters, []greltrace.Exporter{"console"}) {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "every other variable", env: map[string]string{
			"OTEL_SDK_DISABLED": "true", "OTEL_SERVICE_NAME": "cart", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod, team=a%20b",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret,x-tenant=acme", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25", "OTEL_PROPAGATORS": "tracecontext",
			"OTEL_METRIC_EXPORT_INTERVAL": "15000", "GREL_TRACE_SHUTDOWN_TIMEOUT": "2s",
		}, check: func(t *testing.T, c greltrace.Config) {
			want := greltrace.DefaultConfig()
			want.Disabled, want.ServiceName = true, "cart"
			want.ResourceAttributes = []attribute.KeyValue{attribute.String("deployment.environment", "prod"), attribute.String("team", "a b")}
			want.Protocol = greltrace.ProtocolGRPC
			want.Headers = map[string]string{"api-key": "s3cret", "x-tenant": "acme"}
			want.ExportTimeout = 2500 * time.Millisecond
			want.Sampler, want.SamplerArg = greltrace.SamplerParentBasedTraceIDRatio, 0.25
			want.Propagators = []greltrace.Propagator{greltrace.PropagatorTraceContext}
			want.MetricInterval = 15 * time.Second
			want.ShutdownTimeout = 2 * time.Second
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		}},
		{name: "propagators none", env: map[string]string{"OTEL_PROPAGATORS": "none"}, check: func(t *testing.T, c greltrace.Config) {
			if len(c.Propagators) != 0 {
				t.Errorf("propagators %v", c.Propagators)
			}
		}},
		{name: "bad exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin9"}, wantErr: []string{"OTEL_TRACES_EXPORTER"}, secret: "zipkin9"},
		{name: "none with another", env: map[string]string{"OTEL_METRICS_EXPORTER": "none,otlp"}, wantErr: []string{"OTEL_METRICS_EXPORTER"}},
		{name: "bad endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://hidden-host"}, wantErr: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}, secret: "hidden-host"},
		{name: "endpoint without scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "hidden-host:4317"}, wantErr: []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"}, secret: "hidden-host"},
		{name: "http/json", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: []string{"OTEL_EXPORTER_OTLP_PROTOCOL"}},
		{name: "bad headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "token%zz=s3cr3t"}, wantErr: []string{"OTEL_EXPORTER_OTLP_HEADERS"}, secret: "s3cr3t"},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, wantErr: []string{"OTEL_EXPORTER_OTLP_TIMEOUT"}, secret: "10s"},
		{name: "zero interval", env: map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "0"}, wantErr: []string{"OTEL_METRIC_EXPORT_INTERVAL"}},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, wantErr: []string{"OTEL_TRACES_SAMPLER"}, secret: "jaeger_remote"},
		{name: "ratio above 1", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "1.5"}, wantErr: []string{"OTEL_TRACES_SAMPLER_ARG"}, secret: "1.5"},
		{name: "bad resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "=orphan"}, wantErr: []string{"OTEL_RESOURCE_ATTRIBUTES"}, secret: "orphan"},
		{name: "bad disabled", env: map[string]string{"OTEL_SDK_DISABLED": "perhaps"}, wantErr: []string{"OTEL_SDK_DISABLED"}, secret: "perhaps"},
		{name: "bad propagator", env: map[string]string{"OTEL_PROPAGATORS": "b3"}, wantErr: []string{"OTEL_PROPAGATORS"}},
		{name: "bad shutdown timeout", env: map[string]string{"GREL_TRACE_SHUTDOWN_TIMEOUT": "-1s"}, wantErr: []string{"GREL_TRACE_SHUTDOWN_TIMEOUT"}},
		{name: "every bad value reported at once", env: map[string]string{"OTEL_TRACES_EXPORTER": "x", "OTEL_TRACES_SAMPLER": "y"},
			wantErr: []string{"OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := greltrace.LoadConfig(grelconfig.NewRegistry(grelconfig.Map(tt.env)))
			if tt.wantErr != nil {
				if !errors.Is(err, grelconfig.ErrInvalid) {
					t.Fatalf("error %v, want a grelconfig error", err)
				}
				for _, v := range tt.wantErr {
					if !strings.Contains(err.Error(), v) {
						t.Errorf("error %q does not name %s", err, v)
					}
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
			if err := c.Validate(); err != nil {
				t.Errorf("LoadConfig's result does not validate: %v", err)
			}
		})
	}
}

func TestLoadConfigDescribe(t *testing.T) {
	reg := grelconfig.NewRegistry(grelconfig.Map(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:pw@collector:4318",
		"OTEL_EXPORTER_OTLP_HEADERS":  "api-key=s3cret",
	}))
	if _, err := greltrace.LoadConfig(reg); err != nil {
		t.Fatal(err)
	}
	got := map[string]grelconfig.Entry{}
	for _, e := range reg.Describe() {
		got[e.Variable] = e
	}
	for _, v := range []string{"OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_RESOURCE_ATTRIBUTES", "GREL_TRACE_SHUTDOWN_TIMEOUT"} {
		if _, ok := got[v]; !ok {
			t.Errorf("describe lacks %s", v)
		}
	}
	if e := got["OTEL_EXPORTER_OTLP_HEADERS"]; e.Value != "<redacted>" || !e.Secret {
		t.Errorf("headers shown as %q", e.Value)
	}
	if e := got["OTEL_EXPORTER_OTLP_ENDPOINT"]; strings.Contains(e.Value, "pw") || !strings.Contains(e.Value, "collector:4318") {
		t.Errorf("endpoint shown as %q", e.Value)
	}
}

func TestValidate(t *testing.T) {
	mutate := func(f func(*greltrace.Config)) greltrace.Config {
		c := greltrace.DefaultConfig()
		f(&c)
		return c
	}
	for name, c := range map[string]greltrace.Config{
		"zero config":      {},
		"none as exporter": mutate(func(c *greltrace.Config) { c.TracesExporters = []greltrace.Exporter{"none"} }),
		"bad endpoint":     mutate(func(c *greltrace.Config) { c.Endpoint = "localhost:4317" }),
		"bad protocol":     mutate(func(c *greltrace.Config) { c.Protocol = "http/json" }),
		"ratio":            mutate(func(c *greltrace.Config) { c.SamplerArg = 2 }),
		"no timeout":       mutate(func(c *greltrace.Config) { c.ExportTimeout = 0 }),
		"no shutdown":      mutate(func(c *greltrace.Config) { c.ShutdownTimeout = 0 }),
	} {
		if err := c.Validate(); !errors.Is(err, grelconfig.ErrInvalid) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if _, err := greltrace.New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestParsePairs(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", map[string]string{}, true},
		{"a=1", map[string]string{"a": "1"}, true},
		{" a = 1 , b=x%2Cy ,, ", map[string]string{"a": "1", "b": "x,y"}, true},
		{"a=", map[string]string{"a": ""}, true},
		{"a=1=2", map[string]string{"a": "1=2"}, true},
		{"a", nil, false},
		{"=1", nil, false},
		{"a=%zz", nil, false},
	}
	for _, tt := range tests {
		got, err := greltrace.ParseHeaders(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !maps.Equal(got, tt.want)) {
			t.Errorf("ParseHeaders(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// FuzzParsePairs proves the header and resource attribute parser never
// panics, never puts its input in an error, and reads back what a correct
// encoder writes.
func FuzzParsePairs(f *testing.F) {
	f.Add("a=1,b=2", "k", "v")
	f.Add("%", "", "")
	f.Add("=,=", "a b", "x,y=z%")
	f.Fuzz(func(t *testing.T, raw, k, v string) {
		if _, err := greltrace.ParseHeaders(raw); err != nil {
			if err.Error() != "must be a comma-separated list of key=value with non-empty keys and percent-encoded values" {
				t.Fatalf("unexpected error text %q", err)
			}
		}
		if _, err := greltrace.ParseResourceAttributes(raw); err != nil && strings.Contains(err.Error(), raw) && len(raw) > 3 {
			t.Fatalf("error %q contains the input", err)
		}
		if k == "" {
			return
		}
		enc := percentEncode(k) + "=" + percentEncode(v)
		got, err := greltrace.ParseHeaders(enc)
		if err != nil {
			t.Fatalf("ParseHeaders(%q): %v", enc, err)
		}
		if got[k] != v || len(got) != 1 {
			t.Fatalf("ParseHeaders(%q) = %q, want {%q: %q}", enc, got, k, v)
		}
	})
}

// percentEncode escapes every byte but unreserved URL characters.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
