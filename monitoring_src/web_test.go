package monitor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/testutil/apijson"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// The field names of GET /api/status are a contract: these lists change
// only by adding names (and the README with them).
var (
	statusFields = []string{"time", "started_at", "uptime_seconds", "interval_ms", "master", "slaves",
		"slaves_at", "slaves_age_ms", "hosts", "grafana"}
	masterFields = []string{"state", "address", "looking_for", "since", "since_ms", "connections",
		"lost_at", "lost_cause"}
	hostFields    = []string{"ip", "datasource", "in_grafana", "health", "health_message", "health_checked_at", "slaves"}
	slaveFields   = []string{"slave", "id", "metrics_port"}
	grafanaFields = []string{"url", "dashboard_uid", "state", "syncs", "failed_syncs", "last_sync_at",
		"last_success_at", "last_success_age_ms", "last_error_at", "last_error", "datasources",
		"repairs", "last_repair", "last_repair_at"}
)

// newTestMonitor makes a monitor that is never run: its state is driven by
// the test and its handlers are called directly.
func newTestMonitor(t *testing.T, grafanaURL, key string) *Monitor {
	t.Helper()
	l, _ := newLog(t, key)
	o := NewOptions()
	o.Iface, o.Master = "lo", "127.0.0.1:1"
	o.StatusAddr = "" // no listener: the handlers are called directly
	o.Grafana.URL, o.Grafana.Key, o.Grafana.Timeout = grafanaURL, key, 5*time.Second
	o.Log = l
	mon, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mon.ln.Close()
		_ = mon.udp.Close()
		mon.grafana.Close()
	})
	return mon
}

// serve runs one request through the status server's routes.
func serve(t *testing.T, mon *Monitor, method, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	mon.statusRoutes().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(body)
}

// obj is a decoded JSON object as a client sees it.
type obj = apijson.Object

func getStatus(t *testing.T, mon *Monitor) (obj, string) {
	t.Helper()
	code, hdr, body := serve(t, mon, http.MethodGet, "/api/status")
	if code != http.StatusOK {
		t.Fatalf("GET /api/status: %d %s", code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET /api/status: content type %q", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /api/status: Cache-Control %q, want no-store", cc)
	}
	return apijson.Decode(t, body), body
}

// The JSON keeps its shape from the first answer (nothing known yet) to a
// connected monitor with hosts, a success and a failure.
func TestStatusJSON(t *testing.T) {
	g := grafanadouble.StartTest(t, testKey)
	mon := newTestMonitor(t, g.URL(), testKey)
	if mon.StatusAddr() != nil {
		t.Fatalf("StatusAddr() = %v with an empty Options.StatusAddr, want nil", mon.StatusAddr())
	}

	// Nothing known yet.
	st, _ := getStatus(t, mon)
	st.CheckFields(t, "status", statusFields)
	m, gr := st.Obj(t, "master"), st.Obj(t, "grafana")
	m.CheckFields(t, "master", masterFields)
	gr.CheckFields(t, "grafana", grafanaFields)
	if m.Str(t, "state") != "looking" || m.Str(t, "address") != "" || m.Str(t, "looking_for") != "127.0.0.1:1" {
		t.Errorf("master before any join: %v", m)
	}
	if len(st.List(t, "hosts")) != 0 || st.Num(t, "slaves") != 0 || st["slaves_at"] != nil || st["slaves_age_ms"] != nil {
		t.Errorf("hosts before any slave list: %v", st)
	}
	if gr.Str(t, "state") != "pending" || len(gr.List(t, "datasources")) != 0 || gr["last_success_at"] != nil ||
		gr["last_error_at"] != nil || gr.Str(t, "last_error") != "" || gr.Num(t, "syncs") != 0 {
		t.Errorf("grafana before any sync: %v", gr)
	}
	if gr.Str(t, "url") != g.URL() || gr.Str(t, "dashboard_uid") != DefaultDashboardUID {
		t.Errorf("grafana url %q, dashboard %q", gr.Str(t, "url"), gr.Str(t, "dashboard_uid"))
	}
	if st.Num(t, "interval_ms") != 5000 || st.Time(t, "time").Before(st.Time(t, "started_at")) {
		t.Errorf("interval %v, time %v, started %v", st["interval_ms"], st["time"], st["started_at"])
	}

	// Connected, two hosts, one good sync.
	ctx := context.Background()
	masterAddr := netip.MustParseAddrPort("127.0.0.1:3000")
	mon.state.connected(masterAddr, time.Now())
	hosts := []SlaveHost{
		{IP: netip.MustParseAddr("10.0.0.2"), Slaves: []SlaveRef{{ID: 40001, MetricsPort: 39001}, {ID: 40002, MetricsPort: 39002}}},
		{IP: netip.MustParseAddr("10.0.0.3"), Slaves: []SlaveRef{{ID: 40003, MetricsPort: 39003}}},
	}
	mon.state.sawSlaves(hosts, time.Now())
	mon.recordSync(ctx, mon.grafana.Sync(ctx, hosts))
	st, _ = getStatus(t, mon)
	m, gr = st.Obj(t, "master"), st.Obj(t, "grafana")
	if m.Str(t, "state") != "connected" || m.Str(t, "address") != "127.0.0.1:3000" || m.Num(t, "connections") != 1 {
		t.Errorf("master once connected: %v", m)
	}
	if st.Num(t, "slaves") != 3 || st.Time(t, "slaves_at").IsZero() {
		t.Errorf("slaves %v at %v, want 3 at a time", st["slaves"], st["slaves_at"])
	}
	hl := st.List(t, "hosts")
	if len(hl) != 2 {
		t.Fatalf("hosts %v, want 2", hl)
	}
	h0 := obj(hl[0].(map[string]any))
	h0.CheckFields(t, "host", hostFields)
	s0 := obj(h0.List(t, "slaves")[1].(map[string]any))
	s0.CheckFields(t, "slave", slaveFields)
	if h0.Str(t, "ip") != "10.0.0.2" || h0.Str(t, "datasource") != "lb-10.0.0.2" || h0["in_grafana"] != true ||
		s0.Str(t, "slave") != "10.0.0.2:40002" || s0.Num(t, "id") != 40002 || s0.Num(t, "metrics_port") != 39002 {
		t.Errorf("first host %v", h0)
	}
	if gr.Str(t, "state") != "ok" || gr.Num(t, "syncs") != 1 || gr.Num(t, "failed_syncs") != 0 ||
		gr.Time(t, "last_success_at").IsZero() || gr["last_success_age_ms"] == nil || gr.Time(t, "last_sync_at").IsZero() {
		t.Errorf("grafana after a good sync: %v", gr)
	}
	ds := gr.List(t, "datasources")
	if len(ds) != 2 || ds[0] != "lb-10.0.0.2" || ds[1] != "lb-10.0.0.3" {
		t.Errorf("datasources %v", ds)
	}
	okAt := gr.Time(t, "last_success_at")

	// Grafana down: the error is recorded, the last success kept.
	g.SetDown(true)
	time.Sleep(2 * time.Millisecond) // the times are to the millisecond
	mon.recordSync(ctx, mon.grafana.Sync(ctx, hosts))
	st, _ = getStatus(t, mon)
	gr = st.Obj(t, "grafana")
	if gr.Str(t, "state") != "failing" || gr.Num(t, "failed_syncs") != 1 || !strings.Contains(gr.Str(t, "last_error"), "503") ||
		!gr.Time(t, "last_success_at").Equal(okAt) || !gr.Time(t, "last_error_at").After(okAt) {
		t.Errorf("grafana after a failed sync: %v", gr)
	}

	// A sync cut short by the monitor's own shutdown is not recorded.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	mon.recordSync(cancelled, mon.grafana.Sync(cancelled, hosts))
	if st, _ := getStatus(t, mon); st.Obj(t, "grafana").Num(t, "syncs") != 2 {
		t.Errorf("a cancelled sync was counted: %v", st.Obj(t, "grafana"))
	}

	// Master lost: looking again, with the cause; the last list stays.
	mon.state.lost(errors.New("reading slave list: EOF"), time.Now())
	st, _ = getStatus(t, mon)
	m = st.Obj(t, "master")
	if m.Str(t, "state") != "looking" || m.Str(t, "address") != "" || m.Time(t, "lost_at").IsZero() ||
		m.Str(t, "lost_cause") != "reading slave list: EOF" || len(st.List(t, "hosts")) != 2 {
		t.Errorf("master once lost: %v; hosts %v", m, st["hosts"])
	}
}

// echoGrafana answers every call 500 with a message quoting the
// Authorization header and the credentials it carries, as a careless proxy
// might.
func echoGrafana(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := "rejected " + r.Header.Get("Authorization")
		if user, pass, ok := r.BasicAuth(); ok {
			msg += " user " + user + " password " + pass
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The key is nowhere: not in the JSON, the page, its assets or the log,
// even when Grafana's error messages quote it.
func TestStatusNeverShowsKey(t *testing.T) {
	for name, key := range map[string]string{"token": "glsa_statusPageToken_9d1e7b", "user:password": "admin:s3cret-Passw0rd"} {
		t.Run(name, func(t *testing.T) {
			secrets := []string{key, base64.StdEncoding.EncodeToString([]byte(key))}
			if _, pass, ok := strings.Cut(key, ":"); ok {
				secrets = append(secrets, pass)
			}
			srv := echoGrafana(t)
			mon := newTestMonitor(t, srv.URL, key)
			ctx := context.Background()
			hosts := []SlaveHost{{IP: netip.MustParseAddr("10.0.0.2"), Slaves: []SlaveRef{{ID: 1, MetricsPort: 2}}}}
			mon.state.connected(netip.MustParseAddrPort("127.0.0.1:3000"), time.Now())
			mon.state.sawSlaves(hosts, time.Now())
			err := mon.grafana.Sync(ctx, hosts)
			if err == nil {
				t.Fatal("Sync against a Grafana answering 500 succeeded")
			}
			mon.recordSync(ctx, err)
			mon.state.lost(err, time.Now()) // an error text in the master part too

			st, body := getStatus(t, mon)
			if e := st.Obj(t, "grafana").Str(t, "last_error"); !strings.Contains(e, "[redacted]") {
				t.Errorf("last_error %q: want Grafana's message with the key redacted", e)
			}
			pages := map[string]string{"/api/status": body}
			for _, p := range []string{"/", "/static/app.js", "/static/style.css", "/ok", "/api/nothing"} {
				_, _, pages[p] = serve(t, mon, http.MethodGet, p)
			}
			for p, b := range pages {
				for _, s := range secrets {
					if strings.Contains(b, s) {
						t.Errorf("GET %s shows the secret %q:\n%s", p, s, b)
					}
				}
			}
		})
	}
}

func TestStatusRoutes(t *testing.T) {
	mon := newTestMonitor(t, "http://127.0.0.1:1", testKey)
	tests := []struct {
		method, path string
		code         int
		contentType  string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script src="/static/app.js" defer></script>`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/static/app.js", 200, "text/javascript; charset=utf-8", "/api/status"},
		{"GET", "/static/style.css", 200, "text/css; charset=utf-8", "@media (max-width: 640px)"},
		{"GET", "/static/nothing.js", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/api/status", 200, "application/json", `"grafana":`},
		{"GET", "/api/slaves", 404, "application/json", `"error":"no API endpoint /api/slaves`},
		{"GET", "/ok", 200, "text/plain; charset=utf-8", "ok\n"},
		{"GET", "/index.html", 404, "text/plain; charset=utf-8", ""},
		{"POST", "/api/status", 405, "text/plain; charset=utf-8", ""},
		{"DELETE", "/", 405, "text/plain; charset=utf-8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, hdr, body := serve(t, mon, tc.method, tc.path)
			if code != tc.code || hdr.Get("Content-Type") != tc.contentType || !strings.Contains(body, tc.contains) {
				t.Errorf("%d %q, want %d %q containing %q:\n%.300s", code, hdr.Get("Content-Type"), tc.code, tc.contentType, tc.contains, body)
			}
			if code == 200 && hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
		})
	}
	// The page may load only its own files: a strict policy, and nothing
	// in the page or its script names another origin.
	_, hdr, body := serve(t, mon, "GET", "/")
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	_, _, js := serve(t, mon, "GET", "/static/app.js")
	for _, text := range []string{body, js} {
		if strings.Contains(text, "https://") || strings.Contains(text, "innerHTML") {
			t.Errorf("the page or its script refers to another origin or writes HTML")
		}
	}
}

// A status address that cannot be bound fails New, which then holds no
// socket.
func TestStatusAddrInUse(t *testing.T) {
	first := NewOptions()
	first.Iface, first.Master, first.StatusAddr = "lo", "127.0.0.1:1", "127.0.0.1:0"
	first.Grafana.Key = testKey
	a, err := New(first)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		// Run closed the status server: the port is free again.
		if b, err := newOnStatus(a.StatusAddr().String()); err != nil {
			t.Errorf("after Run returned: %v", err)
		} else {
			_ = b.ln.Close()
			_ = b.udp.Close()
			_ = b.statusLn.Close()
		}
	}()
	if _, err := newOnStatus(a.StatusAddr().String()); err == nil || !strings.Contains(err.Error(), "opening status listener") {
		t.Errorf("New on a bound status address: %v", err)
	}
}

func newOnStatus(addr string) (*Monitor, error) {
	o := NewOptions()
	o.Iface, o.Master, o.StatusAddr = "lo", "127.0.0.1:1", addr
	o.Grafana.Key = testKey
	return New(o)
}
