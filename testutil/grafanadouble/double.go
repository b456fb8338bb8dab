// Package grafanadouble is a test double of the parts of Grafana's HTTP API
// that the monitor uses. It enforces the documented contract of Grafana 9–11
// for those endpoints (authentication, status codes, JSON shapes, the
// conflicts and version checks), keeps its state in memory, records every
// request, and can be switched "down" to simulate an outage.
//
// Endpoints (all need an Authorization header except GET /api/health):
//
//	GET    /api/health
//	GET    /api/datasources
//	POST   /api/datasources
//	GET    /api/datasources/{id}          (deprecated in Grafana, still served)
//	GET    /api/datasources/name/{name}
//	GET    /api/datasources/uid/{uid}
//	GET    /api/datasources/uid/{uid}/health
//	DELETE /api/datasources/{id}          (deprecated in Grafana, still served)
//	DELETE /api/datasources/name/{name}
//	DELETE /api/datasources/uid/{uid}
//	POST   /api/dashboards/db
//	GET    /api/dashboards/uid/{uid}
//	DELETE /api/dashboards/uid/{uid}
//
// Everything else under /api/ answers 404 {"message":"Not found"}, including
// the slug routes (/api/dashboards/db/{slug}) that Grafana 8 removed.
//
// For a double running as a separate process (cmd/grafana-double) there are
// control routes outside /api, without authentication:
//
//	GET  /_double/state   datasources, dashboards, requests, down
//	POST /_double/down    every /api call answers 503 from now on
//	POST /_double/up      back to normal
//	POST /_double/reset   forget every datasource and dashboard: a Grafana
//	                      that came back with empty state
package grafanadouble

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is what GET /api/health reports.
const Version = "11.0.0-double"

// maxBody caps what a request body may be (and what is recorded of it).
const maxBody = 4 << 20

// Datasource is a data source as Grafana returns it.
type Datasource struct {
	ID          int64          `json:"id"`
	UID         string         `json:"uid"`
	OrgID       int64          `json:"orgId"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	TypeName    string         `json:"typeName"`
	TypeLogoURL string         `json:"typeLogoUrl"`
	Access      string         `json:"access"`
	URL         string         `json:"url"`
	User        string         `json:"user"`
	Database    string         `json:"database"`
	BasicAuth   bool           `json:"basicAuth"`
	IsDefault   bool           `json:"isDefault"`
	JSONData    map[string]any `json:"jsonData"`
	ReadOnly    bool           `json:"readOnly"`
	Version     int            `json:"version"`
}

// Dashboard is a stored dashboard.
type Dashboard struct {
	ID      int64
	UID     string
	Title   string
	Slug    string
	Version int
	Created time.Time
	Updated time.Time
	// JSON is the dashboard model as GET /api/dashboards/uid/{uid} returns it
	// (id, uid and version filled in by the server).
	JSON []byte
}

// Model decodes the dashboard JSON.
func (d Dashboard) Model() (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(d.JSON, &m)
	return m, err
}

// Request is one recorded request.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Auth is the scheme the client sent: "bearer", "basic", "other" or "none".
	Auth   string `json:"auth"`
	AuthOK bool   `json:"authOk"`
	Status int    `json:"status"`
	Body   []byte `json:"body,omitempty"`
}

// Fault, when set, is asked about every /api request that passed
// authentication; a non-zero status is answered instead of the real one.
type Fault func(method, path string) (status int)

// Server is the double. The zero value is not usable; call New.
type Server struct {
	key     string
	handler http.Handler

	mu          sync.Mutex
	down        bool
	fault       Fault
	nextDSID    int64
	nextDashID  int64
	datasources map[int64]*Datasource
	dashboards  map[string]*Dashboard // by uid
	requests    []Request

	// prom queries datasources' Prometheus for the health route, never
	// through a proxy (the double stands for a Grafana beside them). With
	// loopbackOnly (StartTest's doubles, in-process tests in the root
	// namespace) it dials loopback only (127.0.0.0/8, ::1, localhost), so a
	// test's made-up host never sends a packet out of this machine.
	prom         *http.Client
	loopbackOnly bool

	lifeMu sync.Mutex // guards the listener fields
	addr   string
	srv    *http.Server
	served chan struct{}
}

// New returns a double that accepts key the way Grafana would: a key with a
// ':' is "user:password" for basic auth, anything else a service-account
// token (or API key) sent as "Bearer <key>".
func New(key string) *Server {
	s := &Server{
		key:         key,
		nextDSID:    1,
		nextDashID:  1,
		datasources: map[int64]*Datasource{},
		dashboards:  map[string]*Dashboard{},
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DisableKeepAlives = true // health checks are rare; nothing idle outlives a test
	dialer := &net.Dialer{Timeout: healthTimeout}
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if s.loopbackOnly && !isLoopback(addr) {
			return nil, fmt.Errorf("dial %s %s: %w (the double reaches loopback only)", network, addr, syscall.ECONNREFUSED)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	s.prom = &http.Client{Transport: transport}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /api/datasources", s.listDatasources)
	mux.HandleFunc("POST /api/datasources", s.addDatasource)
	mux.HandleFunc("GET /api/datasources/{id}", s.getDatasource(byID))
	mux.HandleFunc("GET /api/datasources/name/{key}", s.getDatasource(byName))
	mux.HandleFunc("GET /api/datasources/uid/{key}", s.getDatasource(byUID))
	mux.HandleFunc("GET /api/datasources/uid/{key}/health", s.checkHealth)
	mux.HandleFunc("DELETE /api/datasources/{id}", s.deleteDatasource(byID))
	mux.HandleFunc("DELETE /api/datasources/name/{key}", s.deleteDatasource(byName))
	mux.HandleFunc("DELETE /api/datasources/uid/{key}", s.deleteDatasource(byUID))
	mux.HandleFunc("POST /api/dashboards/db", s.saveDashboard)
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", s.getDashboard)
	mux.HandleFunc("DELETE /api/dashboards/uid/{uid}", s.deleteDashboard)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, msg("Not found"))
	})
	s.handler = mux
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the bound address (host:port). After Close, Start may be called
// again (with that address, to simulate a Grafana restart); the state is kept.
func (s *Server) Start(addr string) (string, error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv != nil {
		return "", errors.New("grafanadouble: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // ErrServerClosed after Close
	}()
	s.srv, s.served, s.addr = srv, served, ln.Addr().String()
	return s.addr, nil
}

// Addr is the address of the last Start ("" before it).
func (s *Server) Addr() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.addr
}

// URL is "http://" + Addr().
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops listening and drops open connections, so clients now get
// "connection refused". It waits for the serving goroutine; it is a no-op
// when not started.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.served
	s.srv, s.served = nil, nil
	return err
}

// Shutdown is Close with a context, for callers that prefer graceful stops.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.served
	s.srv, s.served = nil, nil
	return err
}

// SetDown switches the outage simulation: while down, every /api call
// (health included) answers 503 and changes nothing.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Reset forgets every datasource and dashboard, as a Grafana restarted on
// an empty database would; recorded requests are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.datasources = map[int64]*Datasource{}
	s.dashboards = map[string]*Dashboard{}
}

// SetFault installs (or, with nil, removes) a fault injector.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// AddDatasource stores ds as if created through the API (for seeding a test);
// ID, OrgID, Version and an empty UID are filled in. It does not check names.
func (s *Server) AddDatasource(ds Datasource) Datasource {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds.ID = s.nextDSID
	s.nextDSID++
	ds.OrgID = 1
	ds.Version = 1
	if ds.UID == "" {
		ds.UID = newUID()
	}
	if ds.TypeName == "" {
		ds.TypeName = ds.Type
	}
	ds.JSONData = maps.Clone(ds.JSONData)
	s.datasources[ds.ID] = &ds
	return ds
}

// Datasources returns a copy of the data sources, sorted by name.
func (s *Server) Datasources() []Datasource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedDatasources()
}

// DatasourceByName returns the data source called name.
func (s *Server) DatasourceByName(name string) (Datasource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ds := s.find(byName, name); ds != nil {
		return copyDS(ds), true
	}
	return Datasource{}, false
}

// Dashboards returns a copy of the dashboards, sorted by uid.
func (s *Server) Dashboards() []Dashboard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Dashboard, 0, len(s.dashboards))
	for _, d := range s.dashboards {
		c := *d
		c.JSON = bytes.Clone(d.JSON)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Dashboard) int { return strings.Compare(a.UID, b.UID) })
	return out
}

// Dashboard returns the dashboard with that uid.
func (s *Server) Dashboard(uid string) (Dashboard, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dashboards[uid]
	if !ok {
		return Dashboard{}, false
	}
	c := *d
	c.JSON = bytes.Clone(d.JSON)
	return c, true
}

// Requests returns a copy of every request recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP records the request, handles the control routes, then enforces
// the outage switch, authentication and faults before the API routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	scheme, authOK := s.checkAuth(r.Header.Get("Authorization"))
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}

	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Auth: scheme, AuthOK: authOK, Body: body,
	})
	down, fault := s.down, s.fault
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if idx < len(s.requests) { // ResetRequests may have run meanwhile
			s.requests[idx].Status = rec.status
		}
		s.mu.Unlock()
	}()

	switch {
	case strings.HasPrefix(r.URL.Path, "/_double/"):
		s.control(rec, r)
		return
	case !strings.HasPrefix(r.URL.Path, "/api/"):
		writeJSON(rec, http.StatusNotFound, msg("Not found"))
		return
	case down:
		writeJSON(rec, http.StatusServiceUnavailable, msg("Service unavailable"))
		return
	case !authOK && !(r.Method == http.MethodGet && r.URL.Path == "/api/health"):
		writeJSON(rec, http.StatusUnauthorized, msg("Unauthorized"))
		return
	}
	if fault != nil {
		if code := fault(r.Method, r.URL.Path); code != 0 {
			writeJSON(rec, code, msg("injected fault"))
			return
		}
	}
	s.handler.ServeHTTP(rec, r)
}

// checkAuth classifies the Authorization header and says whether it carries
// the key. Grafana also takes a token as basic auth with user "api_key".
func (s *Server) checkAuth(h string) (scheme string, ok bool) {
	if h == "" {
		return "none", false
	}
	kind, cred, _ := strings.Cut(h, " ")
	switch strings.ToLower(kind) {
	case "bearer":
		return "bearer", !strings.Contains(s.key, ":") && cred == s.key && s.key != ""
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "basic", false
		}
		if strings.Contains(s.key, ":") {
			return "basic", string(raw) == s.key
		}
		return "basic", s.key != "" && string(raw) == "api_key:"+s.key
	default:
		return "other", false
	}
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_double/state":
		s.mu.Lock()
		state := struct {
			Down        bool           `json:"down"`
			Datasources []Datasource   `json:"datasources"`
			Dashboards  []stateDash    `json:"dashboards"`
			Requests    []Request      `json:"requests"`
			Health      map[string]any `json:"health"`
		}{Down: s.down, Datasources: s.sortedDatasources(), Requests: slices.Clone(s.requests)}
		for _, d := range s.dashboards {
			state.Dashboards = append(state.Dashboards, stateDash{
				UID: d.UID, Title: d.Title, Version: d.Version, Dashboard: json.RawMessage(d.JSON)})
		}
		s.mu.Unlock()
		slices.SortFunc(state.Dashboards, func(a, b stateDash) int { return strings.Compare(a.UID, b.UID) })
		state.Health = map[string]any{"version": Version}
		writeJSON(w, http.StatusOK, state)
	case r.Method == http.MethodPost && r.URL.Path == "/_double/down":
		s.SetDown(true)
		writeJSON(w, http.StatusOK, msg("down"))
	case r.Method == http.MethodPost && r.URL.Path == "/_double/up":
		s.SetDown(false)
		writeJSON(w, http.StatusOK, msg("up"))
	case r.Method == http.MethodPost && r.URL.Path == "/_double/reset":
		s.Reset()
		writeJSON(w, http.StatusOK, msg("reset"))
	default:
		writeJSON(w, http.StatusNotFound, msg("Not found"))
	}
}

type stateDash struct {
	UID       string          `json:"uid"`
	Title     string          `json:"title"`
	Version   int             `json:"version"`
	Dashboard json.RawMessage `json:"dashboard"`
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"commit": "grafanadouble", "database": "ok", "version": Version})
}

// --- data sources ---

type lookup int

const (
	byID lookup = iota
	byName
	byUID
)

// find returns the data source matching key; s.mu must be held.
func (s *Server) find(by lookup, key string) *Datasource {
	for _, ds := range s.datasources {
		switch by {
		case byID:
			if strconv.FormatInt(ds.ID, 10) == key {
				return ds
			}
		case byName:
			if ds.Name == key {
				return ds
			}
		case byUID:
			if ds.UID == key {
				return ds
			}
		}
	}
	return nil
}

// sortedDatasources copies the data sources sorted by name, case-folded, as
// Grafana sorts its list; s.mu must be held.
func (s *Server) sortedDatasources() []Datasource {
	out := make([]Datasource, 0, len(s.datasources))
	for _, ds := range s.datasources {
		out = append(out, copyDS(ds))
	}
	slices.SortFunc(out, func(a, b Datasource) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

func copyDS(ds *Datasource) Datasource {
	c := *ds
	c.JSONData = maps.Clone(ds.JSONData)
	return c
}

func (s *Server) listDatasources(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	list := s.sortedDatasources()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// addDatasourceCommand mirrors Grafana's AddDataSourceCommand: decoded with
// encoding/json (so field names match case-insensitively), name and type
// required.
type addDatasourceCommand struct {
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	Access    string         `json:"access"`
	URL       string         `json:"url"`
	User      string         `json:"user"`
	Database  string         `json:"database"`
	BasicAuth bool           `json:"basicAuth"`
	IsDefault bool           `json:"isDefault"`
	JSONData  map[string]any `json:"jsonData"`
	UID       string         `json:"uid"`
}

var validUID = regexp.MustCompile(`^[a-zA-Z0-9\-_]*$`).MatchString

func (s *Server) addDatasource(w http.ResponseWriter, r *http.Request) {
	var cmd addDatasourceCommand
	if err := json.NewDecoder(r.Body).Decode(&cmd); err != nil || cmd.Name == "" || cmd.Type == "" {
		writeJSON(w, http.StatusBadRequest, msg("bad request data"))
		return
	}
	if cmd.URL != "" {
		if u, err := url.Parse(cmd.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeJSON(w, http.StatusBadRequest, msg("Validation error, invalid URL"))
			return
		}
	}
	if len(cmd.UID) > 40 || !validUID(cmd.UID) {
		writeJSON(w, http.StatusBadRequest, msg("Invalid datasource UID."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(byName, cmd.Name) != nil {
		writeJSON(w, http.StatusConflict, msg("data source with the same name already exists"))
		return
	}
	if cmd.UID != "" && s.find(byUID, cmd.UID) != nil {
		writeJSON(w, http.StatusConflict, msg("data source with the same uid already exists"))
		return
	}
	ds := &Datasource{
		ID: s.nextDSID, UID: cmd.UID, OrgID: 1, Name: cmd.Name, Type: cmd.Type, TypeName: cmd.Type,
		TypeLogoURL: "public/app/plugins/datasource/" + cmd.Type + "/img/logo.svg",
		Access:      cmd.Access, URL: cmd.URL, User: cmd.User, Database: cmd.Database,
		BasicAuth: cmd.BasicAuth, IsDefault: cmd.IsDefault, JSONData: cmd.JSONData, Version: 1,
	}
	if ds.UID == "" {
		ds.UID = newUID()
	}
	if ds.JSONData == nil {
		ds.JSONData = map[string]any{}
	}
	s.nextDSID++
	s.datasources[ds.ID] = ds
	writeJSON(w, http.StatusOK, map[string]any{
		"datasource": copyDS(ds), "id": ds.ID, "message": "Datasource added", "name": ds.Name,
	})
}

func (s *Server) getDatasource(by lookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := routeKey(w, r, by)
		if !ok {
			return
		}
		s.mu.Lock()
		ds := s.find(by, key)
		var c Datasource
		if ds != nil {
			c = copyDS(ds)
		}
		s.mu.Unlock()
		if ds == nil {
			writeJSON(w, http.StatusNotFound, msg("Data source not found"))
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

// isLoopback says whether host:port names this machine's loopback.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// healthTimeout bounds the double's query to a datasource's Prometheus.
const healthTimeout = 2 * time.Second

// checkHealth does what Grafana's Prometheus datasource does for
// GET /api/datasources/uid/{uid}/health: it runs the query 1+1 against the
// datasource's URL, and answers 200 {"status":"OK",...} when Prometheus
// answers with a success, else 400 {"status":"ERROR","message":...}; 404
// for an unknown uid.
func (s *Server) checkHealth(w http.ResponseWriter, r *http.Request) {
	key, ok := routeKey(w, r, byUID)
	if !ok {
		return
	}
	s.mu.Lock()
	ds := s.find(byUID, key)
	var dsURL string
	if ds != nil {
		dsURL = ds.URL
	}
	s.mu.Unlock()
	if ds == nil {
		writeJSON(w, http.StatusNotFound, msg("Data source not found"))
		return
	}
	if err := s.queryPrometheus(r.Context(), dsURL); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "ERROR", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK", "message": "Successfully queried the Prometheus API."})
}

// queryPrometheus runs 1+1 on the Prometheus at base.
func (s *Server) queryPrometheus(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/query?query=1%2B1", nil)
	if err != nil {
		return fmt.Errorf("Prometheus URL %q: %w", base, err)
	}
	resp, err := s.prom.Do(req)
	if err != nil {
		return fmt.Errorf("querying %s: %w", base, err)
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK || answer.Status != "success" {
		return fmt.Errorf("Prometheus at %s answered %s, not a query result", base, resp.Status)
	}
	return nil
}

func (s *Server) deleteDatasource(by lookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := routeKey(w, r, by)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		ds := s.find(by, key)
		switch {
		case ds == nil:
			writeJSON(w, http.StatusNotFound, msg("Data source not found"))
		case ds.ReadOnly:
			writeJSON(w, http.StatusForbidden, msg("Cannot delete read-only data source"))
		default:
			delete(s.datasources, ds.ID)
			if by == byID { // Grafana's by-id route answers without the id
				writeJSON(w, http.StatusOK, msg("Data source deleted"))
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"message": "Data source deleted", "id": ds.ID})
		}
	}
}

// routeKey extracts the path parameter, answering 400 for a bad numeric id.
func routeKey(w http.ResponseWriter, r *http.Request, by lookup) (string, bool) {
	if by != byID {
		return r.PathValue("key"), true
	}
	id := r.PathValue("id")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		writeJSON(w, http.StatusBadRequest, msg("id is invalid"))
		return "", false
	}
	return id, true
}

// --- dashboards ---

// saveDashboardCommand mirrors the body of POST /api/dashboards/db.
type saveDashboardCommand struct {
	Dashboard map[string]any `json:"dashboard"`
	Overwrite bool           `json:"overwrite"`
	FolderID  int64          `json:"folderId"`
	FolderUID string         `json:"folderUid"`
	Message   string         `json:"message"`
}

func (s *Server) saveDashboard(w http.ResponseWriter, r *http.Request) {
	var cmd saveDashboardCommand
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&cmd); err != nil || cmd.Dashboard == nil {
		writeJSON(w, http.StatusBadRequest, msg("bad request data"))
		return
	}
	model := cmd.Dashboard
	title, _ := model["title"].(string)
	if strings.TrimSpace(title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"status": "empty-name", "message": "Dashboard title cannot be empty"})
		return
	}
	uid, _ := model["uid"].(string)
	if len(uid) > 40 {
		writeJSON(w, http.StatusBadRequest, msg("uid too long, max 40 characters"))
		return
	}
	if !validUID(uid) {
		writeJSON(w, http.StatusBadRequest, msg("uid contains illegal characters"))
		return
	}
	id := number(model["id"])
	version := int(number(model["version"]))

	s.mu.Lock()
	defer s.mu.Unlock()
	var byIDDash *Dashboard
	if id > 0 {
		for _, d := range s.dashboards {
			if d.ID == id {
				byIDDash = d
			}
		}
		if byIDDash == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{
				"status": "not-found", "message": "Dashboard not found"})
			return
		}
	}
	existing := s.dashboards[uid]
	if uid == "" {
		existing = byIDDash
	}
	if byIDDash != nil && existing != nil && byIDDash != existing {
		writeJSON(w, http.StatusBadRequest, msg("A dashboard with the same uid already exists"))
		return
	}
	if existing != nil && version != existing.Version && !cmd.Overwrite {
		writeJSON(w, http.StatusPreconditionFailed, map[string]string{
			"status": "version-mismatch", "message": "The dashboard has been changed by someone else"})
		return
	}
	if !cmd.Overwrite {
		for _, d := range s.dashboards {
			if d != existing && strings.EqualFold(d.Title, title) {
				writeJSON(w, http.StatusPreconditionFailed, map[string]string{
					"status": "name-exists", "message": "A dashboard with the same name in the folder already exists"})
				return
			}
		}
	}
	now := time.Now().UTC()
	d := existing
	if d == nil {
		if uid == "" {
			uid = newUID()
		}
		d = &Dashboard{ID: s.nextDashID, UID: uid, Created: now}
		s.nextDashID++
	}
	d.Title, d.Slug, d.Updated = title, slugify(title), now
	d.Version++
	model["id"], model["uid"], model["version"] = d.ID, d.UID, d.Version
	raw, err := json.Marshal(model)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to save dashboard"))
		return
	}
	d.JSON = raw
	s.dashboards[d.UID] = d
	writeJSON(w, http.StatusOK, map[string]any{
		"id": d.ID, "uid": d.UID, "url": "/d/" + d.UID + "/" + d.Slug, "status": "success",
		"version": d.Version, "slug": d.Slug, "folderUid": "",
	})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.dashboards[r.PathValue("uid")]
	var body map[string]any
	if ok {
		body = map[string]any{
			"dashboard": json.RawMessage(bytes.Clone(d.JSON)),
			"meta": map[string]any{
				"type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true,
				"canDelete": true, "slug": d.Slug, "url": "/d/" + d.UID + "/" + d.Slug,
				"expires": time.Time{}, "created": d.Created, "updated": d.Updated,
				"updatedBy": "admin", "createdBy": "admin", "version": d.Version,
				"hasAcl": false, "isFolder": false, "folderId": 0, "folderUid": "",
				"folderTitle": "General", "folderUrl": "", "provisioned": false,
				"provisionedExternalId": "",
			},
		}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dashboards[r.PathValue("uid")]
	if !ok {
		writeJSON(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	delete(s.dashboards, d.UID)
	writeJSON(w, http.StatusOK, map[string]any{
		"title": d.Title, "message": fmt.Sprintf("Dashboard %s deleted", d.Title), "id": d.ID})
}

// --- helpers ---

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func msg(m string) map[string]string { return map[string]string{"message": m} }

func writeJSON(w http.ResponseWriter, code int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		code, raw = http.StatusInternalServerError, []byte(`{"message":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(raw)
}

// number reads a JSON number (decoded with UseNumber) or null as int64.
func number(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return int64(f)
		}
	case float64:
		return int64(n)
	}
	return 0
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(title string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
}

func newUID() string {
	const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b)
}
