package greltrace_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	greltrace "github.com/grelmicro/grelmicro-go/tracing"
)

// collector is an in-process OTLP receiver: it keeps every export request it
// is sent, over gRPC or HTTP.
type collector struct {
	mu      sync.Mutex
	traces  []*collectortrace.ExportTraceServiceRequest
	metrics []*collectormetrics.ExportMetricsServiceRequest
	headers []string // the x-tenant header of each request
}

func (c *collector) addTraces(r *collectortrace.ExportTraceServiceRequest, tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.traces = append(c.traces, r)
	c.headers = append(c.headers, tenant)
}

func (c *collector) addMetrics(r *collectormetrics.ExportMetricsServiceRequest, tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metrics = append(c.metrics, r)
	c.headers = append(c.headers, tenant)
}

type grpcTraces struct {
	collectortrace.UnimplementedTraceServiceServer
	c *collector
}

func (s grpcTraces) Export(ctx context.Context, r *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	s.c.addTraces(r, tenantOf(ctx))
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

type grpcMetrics struct {
	collectormetrics.UnimplementedMetricsServiceServer
	c *collector
}

func (s grpcMetrics) Export(ctx context.Context, r *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	s.c.addMetrics(r, tenantOf(ctx))
	return &collectormetrics.ExportMetricsServiceResponse{}, nil
}

func tenantOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-tenant"); len(v) == 1 {
		return v[0]
	}
	return ""
}

// startGRPCCollector serves the OTLP trace and metrics services on loopback.
func startGRPCCollector(t *testing.T) (*collector, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, grpcTraces{c: c})
	collectormetrics.RegisterMetricsServiceServer(srv, grpcMetrics{c: c})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return c, "http://" + ln.Addr().String()
}

// startHTTPCollector serves OTLP/HTTP with protobuf bodies on loopback.
func startHTTPCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{}
	mux := http.NewServeMux()
	decode := func(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = proto.Unmarshal(body, m)
		}
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return false
		}
		return true
	}
	reply := func(w http.ResponseWriter, m proto.Message) {
		b, _ := proto.Marshal(m)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var req collectortrace.ExportTraceServiceRequest
		if decode(w, r, &req) {
			c.addTraces(&req, r.Header.Get("X-Tenant"))
			reply(w, &collectortrace.ExportTraceServiceResponse{})
		}
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var req collectormetrics.ExportMetricsServiceRequest
		if decode(w, r, &req) {
			c.addMetrics(&req, r.Header.Get("X-Tenant"))
			reply(w, &collectormetrics.ExportMetricsServiceResponse{})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

type receivedSpan struct {
	name    string
	attrs   map[string]string
	status  tracepb.Status_StatusCode
	message string
	events  []string
	service string
}

func (c *collector) spans() []receivedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []receivedSpan
	for _, req := range c.traces {
		for _, rs := range req.GetResourceSpans() {
			service := attrString(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					r := receivedSpan{name: s.GetName(), attrs: map[string]string{}, status: s.GetStatus().GetCode(), message: s.GetStatus().GetMessage(), service: service}
					for _, kv := range s.GetAttributes() {
						r.attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
					}
					for _, e := range s.GetEvents() {
						r.events = append(r.events, e.GetName())
					}
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// counterSum returns the value of the named int64 sum, and whether it came.
func (c *collector) counterSum(name string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, req := range c.metrics {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() == name {
						var sum int64
						for _, dp := range m.GetSum().GetDataPoints() {
							sum += dp.GetAsInt()
						}
						return sum, true
					}
				}
			}
		}
	}
	return 0, false
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestOTLPEndToEnd exports spans and metrics to a real OTLP receiver on
// loopback, over both protocols, and checks what arrives.
func TestOTLPEndToEnd(t *testing.T) {
	for _, tt := range []struct {
		protocol greltrace.Protocol
		start    func(*testing.T) (*collector, string)
	}{
		{greltrace.ProtocolGRPC, startGRPCCollector},
		{greltrace.ProtocolHTTPProtobuf, startHTTPCollector},
	} {
		t.Run(string(tt.protocol), func(t *testing.T) {
			col, endpoint := tt.start(t)
			cfg := greltrace.DefaultConfig()
			cfg.TracesExporters = []greltrace.Exporter{greltrace.ExporterOTLP}
			cfg.MetricsExporters = []greltrace.Exporter{greltrace.ExporterOTLP}
			cfg.Protocol = tt.protocol
			cfg.Endpoint = endpoint
			cfg.ServiceName = "checkout"
			cfg.Headers = map[string]string{"x-tenant": "acme"}
			cfg.MetricInterval = time.Hour // only the final flush on stop
			p, err := greltrace.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			tracer := p.TracerProvider().Tracer("greltrace_test")
			_ = greltrace.Run(ctx, tracer, "grel.lock.acquire", func(ctx context.Context) error { return nil },
				attribute.String("grel.name", "cart"))
			err = greltrace.Run(ctx, tracer, "grel.lock.release", func(ctx context.Context) error { return errors.New("not held") })
			if err == nil || err.Error() != "not held" {
				t.Fatalf("Run returned %v", err)
			}
			counter, _ := p.MeterProvider().Meter("greltrace_test").Int64Counter("grel.test.calls")
			counter.Add(ctx, 2)
			counter.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "v")))

			if err := p.Stop(ctx); err != nil {
				t.Fatal(err)
			}

			spans := col.spans()
			if len(spans) != 2 {
				t.Fatalf("received %d spans: %+v", len(spans), spans)
			}
			byName := map[string]receivedSpan{}
			for _, s := range spans {
				byName[s.name] = s
				if s.service != "checkout" {
					t.Errorf("span %s: service.name %q", s.name, s.service)
				}
			}
			if s := byName["grel.lock.acquire"]; s.attrs["grel.name"] != "cart" || s.status != tracepb.Status_STATUS_CODE_UNSET {
				t.Errorf("acquire span %+v", s)
			}
			if s := byName["grel.lock.release"]; s.status != tracepb.Status_STATUS_CODE_ERROR || s.message != "not held" || len(s.events) != 1 || s.events[0] != "exception" {
				t.Errorf("release span %+v", s)
			}
			if sum, ok := col.counterSum("grel.test.calls"); !ok || sum != 3 {
				t.Errorf("counter sum %d (received %v), want 3", sum, ok)
			}
			col.mu.Lock()
			for _, h := range col.headers {
				if h != "acme" {
					t.Errorf("export without the configured header: %q", h)
				}
			}
			col.mu.Unlock()
		})
	}
}

// stallingListener accepts connections and never answers on them.
func stallingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestStopIsBoundedWhenTheCollectorIsDown proves that Stop returns within
// GREL_TRACE_SHUTDOWN_TIMEOUT, without error, when the collector stalls or
// refuses, and says so in the log. goleak (TestMain) proves no exporter
// goroutine outlives it.
func TestStopIsBoundedWhenTheCollectorIsDown(t *testing.T) {
	const bound = 400 * time.Millisecond
	for _, tt := range []struct {
		name     string
		protocol greltrace.Protocol
		addr     func(*testing.T) string
	}{
		{"grpc stalls", greltrace.ProtocolGRPC, stallingListener},
		{"http stalls", greltrace.ProtocolHTTPProtobuf, stallingListener},
		{"grpc refused", greltrace.ProtocolGRPC, closedPort},
		{"http refused", greltrace.ProtocolHTTPProtobuf, closedPort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := greltrace.DefaultConfig()
			cfg.TracesExporters = []greltrace.Exporter{greltrace.ExporterOTLP}
			cfg.MetricsExporters = []greltrace.Exporter{greltrace.ExporterOTLP}
			cfg.Protocol = tt.protocol
			cfg.Endpoint = "http://" + tt.addr(t)
			cfg.ShutdownTimeout = bound
			cfg.MetricInterval = time.Hour
			core, logs := observer.New(zapcore.DebugLevel)
			p, err := greltrace.New(cfg, greltrace.WithLogger(zap.New(core)))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			tracer := p.TracerProvider().Tracer("greltrace_test")
			for range 10 {
				_, span := tracer.Start(ctx, "lost")
				span.End()
			}
			counter, _ := p.MeterProvider().Meter("greltrace_test").Int64Counter("lost")
			counter.Add(ctx, 1)

			start := time.Now()
			err = p.Stop(ctx)
			elapsed := time.Since(start)
			if err != nil {
				t.Errorf("Stop: %v", err)
			}
			if elapsed > bound+time.Second {
				t.Errorf("Stop took %v with a bound of %v", elapsed, bound)
			}
			if logs.FilterLevelExact(zapcore.WarnLevel).Len() == 0 {
				t.Errorf("no warning logged; logs: %v", logs.All())
			}
		})
	}
}
