package greltrace

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
)

// Exporter names where one signal goes.
type Exporter string

// The exporters OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER accept.
const (
	ExporterOTLP    Exporter = "otlp"
	ExporterConsole Exporter = "console"
	ExporterNone    Exporter = "none"
)

// Protocol is the OTLP transport.
type Protocol string

// The protocols OTEL_EXPORTER_OTLP_PROTOCOL accepts.
const (
	ProtocolGRPC         Protocol = "grpc"
	ProtocolHTTPProtobuf Protocol = "http/protobuf"
)

// Sampler names a head sampler of the OpenTelemetry specification.
type Sampler string

// The samplers OTEL_TRACES_SAMPLER accepts.
const (
	SamplerAlwaysOn                Sampler = "always_on"
	SamplerAlwaysOff               Sampler = "always_off"
	SamplerTraceIDRatio            Sampler = "traceidratio"
	SamplerParentBasedAlwaysOn     Sampler = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    Sampler = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio Sampler = "parentbased_traceidratio"
)

// Propagator names a context propagation format.
type Propagator string

// The propagators OTEL_PROPAGATORS accepts.
const (
	PropagatorTraceContext Propagator = "tracecontext"
	PropagatorBaggage      Propagator = "baggage"
	PropagatorNone         Propagator = "none"
)

// The OpenTelemetry variables [LoadConfig] reads.
const (
	VarSDKDisabled        = "OTEL_SDK_DISABLED"
	VarServiceName        = "OTEL_SERVICE_NAME"
	VarResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	VarTracesExporter     = "OTEL_TRACES_EXPORTER"
	VarMetricsExporter    = "OTEL_METRICS_EXPORTER"
	VarEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	VarTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	VarMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	VarProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	VarHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	VarTimeout            = "OTEL_EXPORTER_OTLP_TIMEOUT"
	VarSampler            = "OTEL_TRACES_SAMPLER"
	VarSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	VarPropagators        = "OTEL_PROPAGATORS"
	VarMetricInterval     = "OTEL_METRIC_EXPORT_INTERVAL"
)

// Config carries what the environment tunes. [LoadConfig] fills it from the
// OTEL_* variables and GREL_TRACE_*; [DefaultConfig] is everything unset.
type Config struct {
	// Disabled turns the SDK off: both providers are no-ops
	// (OTEL_SDK_DISABLED).
	Disabled bool
	// ServiceName is service.name (OTEL_SERVICE_NAME); empty means the
	// service.name of ResourceAttributes, then WithDefaultServiceName, then
	// "unknown_service:<executable>".
	ServiceName string
	// ResourceAttributes describe the process (OTEL_RESOURCE_ATTRIBUTES).
	ResourceAttributes []attribute.KeyValue
	// TracesExporters and MetricsExporters are where each signal goes
	// (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER). Empty means none.
	TracesExporters  []Exporter
	MetricsExporters []Exporter
	// Endpoint is the OTLP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); the HTTP
	// protocol appends /v1/traces and /v1/metrics. Empty means the
	// protocol's default on localhost (4317 for grpc, 4318 for HTTP).
	Endpoint string
	// TracesEndpoint and MetricsEndpoint are full per-signal URLs used as
	// they are (OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT).
	TracesEndpoint  string
	MetricsEndpoint string
	// Protocol is the OTLP transport (OTEL_EXPORTER_OTLP_PROTOCOL, default
	// http/protobuf as the specification says).
	Protocol Protocol
	// Headers are sent with every export (OTEL_EXPORTER_OTLP_HEADERS; secret).
	Headers map[string]string
	// ExportTimeout bounds one export attempt (OTEL_EXPORTER_OTLP_TIMEOUT,
	// in milliseconds, default 10000).
	ExportTimeout time.Duration
	// Sampler and SamplerArg choose the head sampler (OTEL_TRACES_SAMPLER,
	// default parentbased_always_on; OTEL_TRACES_SAMPLER_ARG, the ratio of
	// the ratio samplers, default 1).
	Sampler    Sampler
	SamplerArg float64
	// Propagators are the context formats (OTEL_PROPAGATORS, default
	// tracecontext,baggage).
	Propagators []Propagator
	// MetricInterval is the time between metric exports
	// (OTEL_METRIC_EXPORT_INTERVAL, in milliseconds, default 60000).
	MetricInterval time.Duration
	// ShutdownTimeout bounds the final flush on stop
	// (GREL_TRACE_SHUTDOWN_TIMEOUT, default 5s).
	ShutdownTimeout time.Duration
}

// Kind is the config kind of greltrace's own variables: GREL_TRACE_*.
const Kind = "TRACE"

var (
	spec = grelconfig.NewSpec[Config](Kind)

	_ = spec.Duration("SHUTDOWN_TIMEOUT", func(c *Config) *time.Duration { return &c.ShutdownTimeout },
		5*time.Second, grelconfig.Positive[time.Duration]()).
		Doc("bound of the final flush of spans and metrics on stop")
)

// DefaultConfig returns the configuration of an environment that sets
// nothing: no exporter, so both providers are no-ops.
func DefaultConfig() Config {
	c := spec.Defaults()
	c.Protocol = ProtocolHTTPProtobuf
	c.ExportTimeout = 10 * time.Second
	c.Sampler = SamplerParentBasedAlwaysOn
	c.SamplerArg = 1
	c.Propagators = []Propagator{PropagatorTraceContext, PropagatorBaggage}
	c.MetricInterval = time.Minute
	return c
}

// Validate checks a Config given as-is. Its messages name fields, never
// values.
func (c Config) Validate() error {
	errs := []error{spec.Validate(c)}
	bad := func(field, reason string) {
		errs = append(errs, &grelconfig.Error{Field: field, Origin: grelconfig.OriginConfig, Reason: reason})
	}
	for _, e := range c.TracesExporters {
		if !slices.Contains(exporters, e) || e == ExporterNone {
			bad("TracesExporters", "must list otlp or console")
		}
	}
	for _, e := range c.MetricsExporters {
		if !slices.Contains(exporters, e) || e == ExporterNone {
			bad("MetricsExporters", "must list otlp or console")
		}
	}
	for _, f := range []struct{ name, v string }{{"Endpoint", c.Endpoint}, {"TracesEndpoint", c.TracesEndpoint}, {"MetricsEndpoint", c.MetricsEndpoint}} {
		if f.v != "" {
			if _, err := parseEndpoint(f.v); err != nil {
				bad(f.name, err.Error())
			}
		}
	}
	if !slices.Contains(protocols, c.Protocol) {
		bad("Protocol", "must be grpc or http/protobuf")
	}
	if c.ExportTimeout <= 0 {
		bad("ExportTimeout", "must be greater than 0")
	}
	if !slices.Contains(samplers, c.Sampler) {
		bad("Sampler", "must be a supported sampler")
	}
	if !(c.SamplerArg >= 0 && c.SamplerArg <= 1) {
		bad("SamplerArg", "must be between 0 and 1")
	}
	for _, p := range c.Propagators {
		if !slices.Contains(propagators, p) || p == PropagatorNone {
			bad("Propagators", "must list tracecontext or baggage")
		}
	}
	if c.MetricInterval <= 0 {
		bad("MetricInterval", "must be greater than 0")
	}
	return errors.Join(errs...)
}

var (
	exporters   = []Exporter{ExporterOTLP, ExporterConsole, ExporterNone}
	protocols   = []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf}
	samplers    = []Sampler{SamplerAlwaysOn, SamplerAlwaysOff, SamplerTraceIDRatio, SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff, SamplerParentBasedTraceIDRatio}
	propagators = []Propagator{PropagatorTraceContext, PropagatorBaggage, PropagatorNone}
)

// LoadConfig resolves the Config from reg: the OpenTelemetry variables
// (read with reg.Vendor, so describe lists them) and GREL_TRACE_*. A nil reg
// reads the process environment. A bad value is a *grelconfig.Error naming
// the variable, never the value; all bad values are reported together.
//
// When OTEL_TRACES_EXPORTER (or OTEL_METRICS_EXPORTER) is unset, the signal
// is exported over OTLP only if an OTLP endpoint variable is set for it, and
// not at all otherwise: a toolkit that dials localhost when nothing is
// configured would surprise (docs/tracing.md).
func LoadConfig(reg *grelconfig.Registry) (Config, error) {
	if reg == nil {
		reg = grelconfig.NewRegistry(grelconfig.Env())
	}
	c, err := spec.Resolve(reg, "")
	if err != nil {
		return Config{}, err
	}
	d := DefaultConfig()
	c.Protocol, c.ExportTimeout, c.Sampler, c.SamplerArg, c.Propagators, c.MetricInterval =
		d.Protocol, d.ExportTimeout, d.Sampler, d.SamplerArg, d.Propagators, d.MetricInterval

	var errs []error
	fail := func(variable, field, reason string) {
		errs = append(errs, &grelconfig.Error{Variable: variable, Field: field, Origin: grelconfig.OriginEnv, Reason: reason})
	}
	vendor := func(name, typ, def, doc string, secret bool) (string, bool) {
		v, ok := reg.Vendor(grelconfig.VendorVar{Name: name, Kind: Kind, Type: typ, Default: def, Doc: doc, Secret: secret, Redact: redactURL(name)})
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}

	if v, ok := vendor(VarSDKDisabled, "bool", "false", "true turns tracing and metrics off", false); ok {
		b, err := grelconfig.ParseBool(v)
		if err != nil {
			fail(VarSDKDisabled, "Disabled", err.Error())
		}
		c.Disabled = b
	}
	c.ServiceName, _ = vendor(VarServiceName, "string", "", "service.name of the resource", false)
	if v, ok := vendor(VarResourceAttributes, "list", "", "key=value,... resource attributes (values percent-encoded)", false); ok {
		attrs, err := ParseResourceAttributes(v)
		if err != nil {
			fail(VarResourceAttributes, "ResourceAttributes", err.Error())
		}
		c.ResourceAttributes = attrs
	}
	for _, f := range []struct {
		name  string
		field string
		dst   *string
		doc   string
	}{
		{VarEndpoint, "Endpoint", &c.Endpoint, "OTLP base URL (http://host:port); setting it turns OTLP export on"},
		{VarTracesEndpoint, "TracesEndpoint", &c.TracesEndpoint, "OTLP URL of traces, used as is"},
		{VarMetricsEndpoint, "MetricsEndpoint", &c.MetricsEndpoint, "OTLP URL of metrics, used as is"},
	} {
		if v, ok := vendor(f.name, "url", "", f.doc, false); ok {
			if _, err := parseEndpoint(v); err != nil {
				fail(f.name, f.field, err.Error())
			}
			*f.dst = v
		}
	}
	traces, tracesSet := vendor(VarTracesExporter, "list", "none", "otlp, console or none; unset: otlp when an OTLP endpoint is set", false)
	c.TracesExporters = c.exportersFrom(traces, tracesSet, c.TracesEndpoint, VarTracesExporter, "TracesExporters", fail)
	metrics, metricsSet := vendor(VarMetricsExporter, "list", "none", "otlp, console or none; unset: otlp when an OTLP endpoint is set", false)
	c.MetricsExporters = c.exportersFrom(metrics, metricsSet, c.MetricsEndpoint, VarMetricsExporter, "MetricsExporters", fail)

	if v, ok := vendor(VarProtocol, "enum", string(ProtocolHTTPProtobuf), "grpc or http/protobuf", false); ok {
		p := Protocol(strings.ToLower(v))
		if !slices.Contains(protocols, p) {
			fail(VarProtocol, "Protocol", "must be grpc or http/protobuf (the Go exporters have no http/json)")
		}
		c.Protocol = p
	}
	if v, ok := vendor(VarHeaders, "list", "", "key=value,... headers of every export (percent-encoded values)", true); ok {
		h, err := ParseHeaders(v)
		if err != nil {
			fail(VarHeaders, "Headers", err.Error())
		}
		c.Headers = h
	}
	millis := func(name, field string, dst *time.Duration, def, doc string) {
		if v, ok := vendor(name, "int", def, doc, false); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || n > int64(24*time.Hour/time.Millisecond) {
				fail(name, field, "must be a whole number of milliseconds between 1 and 86400000")
				return
			}
			*dst = time.Duration(n) * time.Millisecond
		}
	}
	millis(VarTimeout, "ExportTimeout", &c.ExportTimeout, "10000", "bound of one export attempt, in milliseconds")
	millis(VarMetricInterval, "MetricInterval", &c.MetricInterval, "60000", "time between metric exports, in milliseconds")

	if v, ok := vendor(VarSampler, "enum", string(SamplerParentBasedAlwaysOn), "head sampler: always_on, always_off, traceidratio or parentbased_*", false); ok {
		s := Sampler(strings.ToLower(v))
		if !slices.Contains(samplers, s) {
			fail(VarSampler, "Sampler", "must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio")
		}
		c.Sampler = s
	}
	if v, ok := vendor(VarSamplerArg, "float", "1", "sampling ratio of the traceidratio samplers, 0 to 1", false); ok {
		f, err := grelconfig.ParseFloat(v)
		if err != nil || f < 0 || f > 1 {
			fail(VarSamplerArg, "SamplerArg", "must be a number between 0 and 1")
		}
		c.SamplerArg = f
	}
	if v, ok := vendor(VarPropagators, "list", "tracecontext,baggage", "context formats: tracecontext, baggage or none", false); ok {
		c.Propagators = nil
		for _, item := range splitList(v) {
			p := Propagator(strings.ToLower(item))
			switch {
			case !slices.Contains(propagators, p):
				fail(VarPropagators, "Propagators", "must list tracecontext, baggage or none")
			case p != PropagatorNone:
				c.Propagators = append(c.Propagators, p)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

func (c *Config) exportersFrom(v string, set bool, signalEndpoint, variable, field string, fail func(string, string, string)) []Exporter {
	if !set {
		if c.Endpoint != "" || signalEndpoint != "" {
			return []Exporter{ExporterOTLP}
		}
		return nil
	}
	var out []Exporter
	none := false
	for _, item := range splitList(v) {
		e := Exporter(strings.ToLower(item))
		switch {
		case !slices.Contains(exporters, e):
			fail(variable, field, "must list otlp, console or none")
			return nil
		case e == ExporterNone:
			none = true
		case !slices.Contains(out, e):
			out = append(out, e)
		}
	}
	if none && len(out) > 0 {
		fail(variable, field, "none cannot be listed with another exporter")
		return nil
	}
	return out
}

func splitList(v string) []string {
	l, _ := grelconfig.ParseList(v)
	return l
}

var (
	errEndpoint = errors.New("must be an absolute http or https URL with a host")
	errPairs    = errors.New("must be a comma-separated list of key=value with non-empty keys and percent-encoded values")
)

func parseEndpoint(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errEndpoint
	}
	return u, nil
}

// redactURL drops the user information of endpoint URLs in describe output.
func redactURL(name string) func(string) string {
	switch name {
	case VarEndpoint, VarTracesEndpoint, VarMetricsEndpoint:
	default:
		return nil
	}
	return func(v string) string {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil {
			return "<invalid URL>"
		}
		if u.User != nil {
			u.User = url.User("redacted")
		}
		return u.String()
	}
}

// ParseHeaders parses the W3C-baggage-like list of OTEL_EXPORTER_OTLP_HEADERS:
// key=value pairs separated by commas, values percent-encoded. Its errors
// never contain the input.
func ParseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	err := parsePairs(s, func(k, v string) { out[k] = v })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseResourceAttributes parses OTEL_RESOURCE_ATTRIBUTES: key=value pairs
// separated by commas, values percent-encoded, into string attributes (a
// later key replaces an earlier one). Its errors never contain the input.
func ParseResourceAttributes(s string) ([]attribute.KeyValue, error) {
	m := map[string]string{}
	var order []string
	err := parsePairs(s, func(k, v string) {
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		m[k] = v
	})
	if err != nil {
		return nil, err
	}
	out := make([]attribute.KeyValue, 0, len(order))
	for _, k := range order {
		out = append(out, attribute.String(k, m[k]))
	}
	return out, nil
}

func parsePairs(s string, add func(k, v string)) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return errPairs
		}
		dk, err := url.PathUnescape(k)
		if err != nil {
			return errPairs
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return errPairs
		}
		add(dk, dv)
	}
	return nil
}

// clone returns a copy of c whose slices and map are its own.
func (c Config) clone() Config {
	c.ResourceAttributes = slices.Clone(c.ResourceAttributes)
	c.TracesExporters = slices.Clone(c.TracesExporters)
	c.MetricsExporters = slices.Clone(c.MetricsExporters)
	c.Propagators = slices.Clone(c.Propagators)
	c.Headers = maps.Clone(c.Headers)
	return c
}
