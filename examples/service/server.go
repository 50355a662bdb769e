package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"
	grelhealth "github.com/grelmicro/grelmicro-go/health"
	grellog "github.com/grelmicro/grelmicro-go/logging"
)

// Route is one handler the server mounts. A pattern file contributes its
// routes with [provideRoutes]; the server refuses two routes with the same
// pattern at fx.New.
type Route struct {
	// Pattern is a net/http ServeMux pattern with its method:
	// "GET /lock/{name}".
	Pattern string
	Handler http.Handler
	// Doc is one line shown in the index at /.
	Doc string
}

// routesGroup is the Fx value group of []Route (flattened) the server
// mounts.
const routesGroup = "routes"

// provideRoutes adds the routes a constructor returns to the server. The
// constructor takes what it needs from Fx and returns []Route (and maybe an
// error):
//
//	provideRoutes(func(l *grellock.Lock) []Route { ... })
func provideRoutes(constructor any) fx.Option {
	return fx.Provide(fx.Annotate(constructor, fx.ResultTags(`group:"`+routesGroup+`,flatten"`)))
}

// HTTPConfig is the server's config: GREL_HTTP_*.
type HTTPConfig struct {
	// Addr is host:port to listen on (GREL_HTTP_ADDR, default
	// 127.0.0.1:8080; port 0 picks a free port).
	Addr string
	// ShutdownTimeout bounds the drain of requests in flight on stop
	// (GREL_HTTP_SHUTDOWN_TIMEOUT, default 3s).
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers
	// (GREL_HTTP_READ_HEADER_TIMEOUT, default 5s).
	ReadHeaderTimeout time.Duration
}

var (
	httpSpec = grelconfig.NewSpec[HTTPConfig]("HTTP")

	_ = httpSpec.String("ADDR", func(c *HTTPConfig) *string { return &c.Addr }, "127.0.0.1:8080",
		grelconfig.NewRule("must be host:port with a port from 0 to 65535", validAddr)).
		Doc("address the HTTP server listens on")
	_ = httpSpec.Duration("SHUTDOWN_TIMEOUT", func(c *HTTPConfig) *time.Duration { return &c.ShutdownTimeout }, 3*time.Second,
		grelconfig.Positive[time.Duration]()).
		Doc("bound of the drain of requests in flight on stop")
	_ = httpSpec.Duration("READ_HEADER_TIMEOUT", func(c *HTTPConfig) *time.Duration { return &c.ReadHeaderTimeout }, 5*time.Second,
		grelconfig.Positive[time.Duration]()).
		Doc("bound of reading a request's headers")
)

func validAddr(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// Server is the example's HTTP server.
type Server struct {
	cfg    HTTPConfig
	srv    *http.Server
	log    *zap.Logger
	routes []Route

	mu   sync.Mutex
	addr net.Addr
	done chan struct{}
}

// Addr returns the address the server listens on once started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

type serverParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Registry   *grelconfig.Registry
	Logger     *zap.Logger
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator
	Routes     []Route `group:"routes"`
}

// serverModule is the HTTP server and its index at /.
var serverModule = fx.Module("example.http",
	fx.Provide(newServer),
)

func newServer(p serverParams) (*Server, error) {
	cfg, err := httpSpec.Resolve(p.Registry, "")
	if err != nil {
		return nil, err
	}
	log := p.Logger.Named("http")
	s := &Server{cfg: cfg, log: log}
	s.routes = append(slices.Clone(p.Routes), Route{Pattern: "GET /{$}", Handler: http.HandlerFunc(s.index), Doc: "this index of routes"})
	slices.SortFunc(s.routes, func(a, b Route) int { return cmp.Compare(a.Pattern, b.Pattern) })
	mux := http.NewServeMux()
	for _, r := range s.routes {
		if err := handle(mux, r); err != nil {
			return nil, err
		}
	}
	s.srv = &http.Server{
		Handler:           traced(mux, p.Tracer.Tracer("github.com/grelmicro/grelmicro-go/examples/service"), p.Propagator, log),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ErrorLog:          zap.NewStdLog(log),
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return s.start(p.Shutdowner) },
		OnStop:  s.stop,
	})
	return s, nil
}

// handle mounts a route, turning ServeMux's panic on a bad or conflicting
// pattern into an error.
func handle(mux *http.ServeMux, r Route) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("examples/service: route %q: %v", r.Pattern, v)
		}
	}()
	mux.Handle(r.Pattern, r.Handler)
	return nil
}

func (s *Server) start(shutdowner fx.Shutdowner) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // without the address, which the config contract keeps out of errors
		}
		return fmt.Errorf("examples/service: listen on GREL_HTTP_ADDR: %w", err)
	}
	s.mu.Lock()
	s.addr, s.done = ln.Addr(), make(chan struct{})
	done := s.done
	s.mu.Unlock()
	s.log.Info("http server listening", zap.String("addr", ln.Addr().String()))
	go func() {
		defer close(done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server failed", zap.Error(err))
			_ = shutdowner.Shutdown(fx.ExitCode(1))
		}
	}()
	return nil
}

func (s *Server) stop(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	// A bound shorter than GREL_HTTP_SHUTDOWN_TIMEOUT matters only when
	// requests are still in flight at it, which the warning below says.
	bound := shutdownBound(ctx, s.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("http drain cut short: closing the connections left", zap.Error(err),
			zap.Duration(grellog.FieldDuration, bound), zap.Duration("shutdown_timeout", s.cfg.ShutdownTimeout))
		_ = s.srv.Close()
	}
	<-done
	s.log.Info("http server stopped")
	return nil
}

// shutdownBound is how long the server's shutdown may take within ctx: want
// (GREL_HTTP_SHUTDOWN_TIMEOUT), cut by the rule of grelhealth's drain so
// that min(half the time left, grelhealth.DrainReserve) of ctx's deadline is
// left to the hooks that stop after the server (the checker, the store, the
// telemetry): Fx skips every hook left once the stop context has ended.
func shutdownBound(ctx context.Context, want time.Duration) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return want
	}
	left := time.Until(deadline)
	return min(want, max(left-min(left/2, grelhealth.DrainReserve), 0))
}

type indexRoute struct {
	Pattern string `json:"pattern"`
	Doc     string `json:"doc,omitempty"`
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Service string       `json:"service"`
		Routes  []indexRoute `json:"routes"`
	}{Service: "grelmicro-go example"}
	for _, r := range s.routes {
		out.Routes = append(out.Routes, indexRoute{Pattern: r.Pattern, Doc: r.Doc})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// traced gives each request a server span named after its route, continuing
// the caller's trace, and logs it at debug with the span's ids.
func traced(next http.Handler, tracer trace.Tracer, prop propagation.TextMapPropagator, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		req := r.WithContext(ctx)
		next.ServeHTTP(rec, req)

		route := req.Pattern // set by the mux on the request it was given
		if route != "" {
			if !strings.Contains(route, " ") {
				route = r.Method + " " + route
			}
			span.SetName(route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
		log.Debug("request served", grellog.Context(ctx),
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("route", route),
			zap.Int("status", rec.status), zap.Duration(grellog.FieldDuration, time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
