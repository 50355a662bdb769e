package grelhealth

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Authorizer decides whether a request may see the error text and details
// of failing checks. Callers it refuses see each check's status only; the
// full error is always in the server's log.
type Authorizer func(*http.Request) bool

// BearerToken returns an Authorizer that allows the requests carrying
// "Authorization: Bearer <token>", compared in constant time. An empty token
// allows nobody.
func BearerToken(token string) Authorizer {
	want := []byte("Bearer " + token)
	return func(r *http.Request) bool {
		if token == "" {
			return false
		}
		got := r.Header.Get("Authorization")
		return subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
}

// HandlerOption configures a [Handler].
type HandlerOption func(*Handler)

// WithAuthorizer sets who sees error text and details. The default allows
// nobody.
func WithAuthorizer(a Authorizer) HandlerOption {
	return func(h *Handler) { h.authorize = a }
}

// Handler serves a Checker over HTTP. Its endpoints are plain
// http.Handlers, mountable in any mux:
//
//	/livez          critical liveness checks, empty body, 200 or 503
//	/readyz         critical checks (liveness included), empty body, 200 or 503; 503 while draining
//	/healthz        every check, JSON, 200 or 503
//	/livez/{name}, /readyz/{name}, /healthz/{name}: one check alone, 404 for an unknown name
//
// Every endpoint answers GET and HEAD (others get 405), sets
// Cache-Control: no-store, and takes ?exclude=a,b (repeatable; unknown names
// are reported: a Warning header on /livez and /readyz, "unknown_excluded" in
// the body of /healthz) and ?verbose (plain-text lines, one per check, on
// /livez and /readyz).
type Handler struct {
	c         *Checker
	authorize Authorizer
	blocks    sync.Pool // of *noStoreBlock

	livez, readyz, healthz          http.Handler
	livezOne, readyzOne, healthzOne http.Handler
}

// NewHandler returns the HTTP endpoints of c.
func NewHandler(c *Checker, opts ...HandlerOption) *Handler {
	h := &Handler{c: c}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	h.livez = &aggregateEndpoint{h: h, scope: ScopeLiveness}
	h.readyz = &aggregateEndpoint{h: h, scope: ScopeReadiness}
	h.healthz = &aggregateEndpoint{h: h, scope: ScopeAll}
	h.livezOne = &oneEndpoint{h: h, scope: ScopeLiveness}
	h.readyzOne = &oneEndpoint{h: h, scope: ScopeReadiness}
	h.healthzOne = &oneEndpoint{h: h, scope: ScopeAll}
	return h
}

// Checker returns the checker served.
func (h *Handler) Checker() *Checker { return h.c }

// Livez serves /livez.
func (h *Handler) Livez() http.Handler { return h.livez }

// Readyz serves /readyz.
func (h *Handler) Readyz() http.Handler { return h.readyz }

// Healthz serves /healthz.
func (h *Handler) Healthz() http.Handler { return h.healthz }

// LivezCheck serves /livez/{name}: one liveness check. The name is the
// request's path value "name" (a ServeMux pattern "/livez/{name}"), or else
// the last segment of its path.
func (h *Handler) LivezCheck() http.Handler { return h.livezOne }

// ReadyzCheck serves /readyz/{name}: one check alone, 200 when it passes,
// 503 when it fails (critical or not; draining does not apply).
func (h *Handler) ReadyzCheck() http.Handler { return h.readyzOne }

// HealthzCheck serves /healthz/{name}: the JSON of /healthz with one check.
func (h *Handler) HealthzCheck() http.Handler { return h.healthzOne }

// Mux is what Mount needs: *http.ServeMux and most routers have it.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers the six endpoints on mux at /livez, /livez/{name},
// /readyz, /readyz/{name}, /healthz and /healthz/{name}. For a prefix, mount
// on a sub-mux and strip it:
//
//	sub := http.NewServeMux()
//	h.Mount(sub)
//	mux.Handle("/ops/", http.StripPrefix("/ops", sub))
func (h *Handler) Mount(mux Mux) {
	mux.Handle("/livez", h.livez)
	mux.Handle("/livez/{name}", h.livezOne)
	mux.Handle("/readyz", h.readyz)
	mux.Handle("/readyz/{name}", h.readyzOne)
	mux.Handle("/healthz", h.healthz)
	mux.Handle("/healthz/{name}", h.healthzOne)
}

// noStoreBlockLen is how many answers share one allocation of their
// Cache-Control values.
const noStoreBlockLen = 128

// noStoreBlock holds the Cache-Control values of noStoreBlockLen answers.
// Each answer gets an element of its own (a slice of length and capacity 1),
// so a middleware that edits its header value in place changes that answer
// only; the block is garbage once every answer cut from it is.
type noStoreBlock struct {
	vals [noStoreBlockLen]string
	next int
}

// noStore returns a Cache-Control value for one answer, cut from a block
// kept per processor by the handler's pool: one allocation per
// noStoreBlockLen answers instead of one per answer, so the probe path stays
// at 0 allocs/op (the bytes are the same: 16 per answer). A value shared by
// every answer would cost nothing but is not safe: one in-place edit
// (h["Cache-Control"][0] = ...) would change every later answer.
func (h *Handler) noStore() []string {
	b, _ := h.blocks.Get().(*noStoreBlock)
	if b == nil || b.next == noStoreBlockLen {
		b = &noStoreBlock{}
		for i := range b.vals {
			b.vals[i] = "no-store"
		}
	}
	v := b.vals[b.next : b.next+1 : b.next+1]
	b.next++
	h.blocks.Put(b)
	return v
}

// preamble sets the headers every answer carries and refuses methods other
// than GET and HEAD.
func (h *Handler) preamble(w http.ResponseWriter, r *http.Request) bool {
	hdr := w.Header()
	hdr["Cache-Control"] = h.noStore()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	hdr.Set("Allow", "GET, HEAD")
	w.WriteHeader(http.StatusMethodNotAllowed)
	return false
}

type query struct {
	exclude []string
	verbose bool
}

func parseQuery(raw string) query {
	if raw == "" {
		return query{}
	}
	vals, _ := url.ParseQuery(raw) // keep what parses
	var q query
	q.exclude = splitExclude(vals["exclude"])
	if v, ok := vals["verbose"]; ok {
		q.verbose = true
		if len(v) > 0 {
			switch strings.ToLower(strings.TrimSpace(v[len(v)-1])) {
			case "0", "false", "no", "off":
				q.verbose = false
			}
		}
	}
	return q
}

// splitExclude flattens repeated and comma-separated ?exclude= values,
// trimming spaces and dropping empty items.
func splitExclude(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// maxReported bounds how many unknown excluded names an answer echoes, and
// maxEcho how many bytes of each: they are caller input.
const (
	maxReported = 16
	maxEcho     = maxNameLen
)

func reported(names []string) []string {
	if len(names) > maxReported {
		names = names[:maxReported]
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = echo(n)
	}
	return out
}

// echo makes caller input safe to write back: printable ASCII only,
// truncated.
func echo(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

func (h *Handler) authorized(r *http.Request) bool {
	return h.authorize != nil && h.authorize(r)
}

type aggregateEndpoint struct {
	h     *Handler
	scope Scope
}

func (a *aggregateEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.h.preamble(w, r) {
		return
	}
	q := parseQuery(r.URL.RawQuery)
	c := a.h.c
	if a.scope != ScopeAll && !q.verbose && len(q.exclude) == 0 {
		// The probe path: no report is built, nothing is allocated when the
		// results are cached.
		var ok bool
		var err error
		if a.scope == ScopeReadiness {
			ok, err = c.Ready(r.Context())
		} else {
			ok, err = c.Live(r.Context())
		}
		writeCode(w, ok && err == nil)
		return
	}
	rep, err := c.Report(r.Context(), a.scope, q.exclude...)
	if err != nil {
		// The caller went away (or its deadline passed) before the results.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if a.scope == ScopeAll {
		a.h.writeJSON(w, r, rep, codeOf(rep.OK()))
		return
	}
	unknown := reported(rep.UnknownExcluded)
	for _, n := range unknown {
		w.Header().Add("Warning", `299 - "grelhealth: unknown check in exclude: `+n+`"`)
	}
	if !q.verbose {
		writeCode(w, rep.OK())
		return
	}
	var b bytes.Buffer
	auth := a.h.authorized(r)
	for _, res := range rep.Checks {
		writeLine(&b, res, auth)
	}
	for _, n := range rep.Excluded {
		b.WriteString("[+]" + n + " excluded\n")
	}
	if rep.Draining && a.scope == ScopeReadiness {
		b.WriteString("[-]drain failed: the service is shutting down\n")
	}
	for _, n := range unknown {
		b.WriteString(`warn: unknown check in exclude: "` + n + "\"\n")
	}
	b.WriteString(a.scope.String())
	if rep.OK() {
		b.WriteString(" check passed\n")
	} else {
		b.WriteString(" check failed\n")
	}
	writeText(w, r, codeOf(rep.OK()), b.Bytes())
}

type oneEndpoint struct {
	h     *Handler
	scope Scope
}

func (o *oneEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !o.h.preamble(w, r) {
		return
	}
	name := r.PathValue("name")
	if name == "" {
		name = path.Base(strings.TrimSuffix(r.URL.Path, "/"))
	}
	c := o.h.c
	set := c.set.Load()
	e := set.byName[name]
	if e == nil || (o.scope == ScopeLiveness && !e.liveness) {
		writeText(w, r, http.StatusNotFound, []byte("grelhealth: unknown check\n"))
		return
	}
	res, err := e.await(r.Context(), time.Now())
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	ok := res.Status == StatusPass
	switch {
	case o.scope == ScopeAll:
		rep := Report{Status: res.Status, Draining: c.Draining(), Checks: []Result{res.Result}}
		o.h.writeJSON(w, r, rep, codeOf(ok))
	case parseQuery(r.URL.RawQuery).verbose:
		var b bytes.Buffer
		writeLine(&b, res.Result, o.h.authorized(r))
		writeText(w, r, codeOf(ok), b.Bytes())
	default:
		writeCode(w, ok)
	}
}

func codeOf(ok bool) int {
	if ok {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func writeCode(w http.ResponseWriter, ok bool) { w.WriteHeader(codeOf(ok)) }

func writeText(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// writeLine writes one verbose line: "[+]name ok" or "[-]name failed: why".
func writeLine(b *bytes.Buffer, res Result, auth bool) {
	if res.Status == StatusPass {
		b.WriteString("[+]" + res.Name + " ok\n")
		return
	}
	reason := "reason withheld"
	if auth && res.Err != nil {
		reason = oneLine(res.Err.Error())
	}
	b.WriteString("[-]" + res.Name + " failed: " + reason + "\n")
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ").Replace(s)
}

// The JSON body of /healthz and /healthz/{name}; docs/health.md documents
// it and testdata/*.golden pin it.
type jsonReport struct {
	Status          Status               `json:"status"`
	Draining        bool                 `json:"draining"`
	Checks          map[string]jsonCheck `json:"checks"`
	Excluded        []string             `json:"excluded,omitempty"`
	UnknownExcluded []string             `json:"unknown_excluded,omitempty"`
}

type jsonCheck struct {
	Status    Status          `json:"status"`
	Kind      string          `json:"kind"`
	Critical  bool            `json:"critical"`
	Duration  string          `json:"duration"`
	Timestamp string          `json:"timestamp"`
	Error     string          `json:"error,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
}

func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, rep Report, code int) {
	auth := h.authorized(r)
	body := jsonReport{
		Status:          rep.Status,
		Draining:        rep.Draining,
		Checks:          make(map[string]jsonCheck, len(rep.Checks)),
		Excluded:        rep.Excluded,
		UnknownExcluded: reported(rep.UnknownExcluded),
	}
	if len(body.UnknownExcluded) == 0 {
		body.UnknownExcluded = nil
	}
	for _, res := range rep.Checks {
		jc := jsonCheck{
			Status:    res.Status,
			Kind:      "readiness",
			Critical:  res.Critical,
			Duration:  res.Duration.String(),
			Timestamp: res.Timestamp.UTC().Format(time.RFC3339Nano),
		}
		if res.Liveness {
			jc.Kind = "liveness"
		}
		if auth {
			if res.Err != nil {
				jc.Error = res.Err.Error()
			}
			if res.Details != nil {
				jc.Details = h.details(res)
			}
		}
		body.Checks[res.Name] = jc
	}
	out, err := json.Marshal(body)
	if err != nil { // cannot happen: every field is a string, a bool or raw JSON
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(out)+1))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(out, '\n'))
	}
}

// details encodes a check's details on their own, so that one value JSON
// cannot encode (a channel, a cycle) spoils that entry only.
func (h *Handler) details(res Result) json.RawMessage {
	b, err := json.Marshal(res.Details)
	if err != nil {
		h.c.log.Warn("health check details are not JSON-encodable",
			zapName(res.Name), zapErr(err))
		return json.RawMessage(`{"error":"grelhealth: details are not JSON-encodable"}`)
	}
	return b
}
