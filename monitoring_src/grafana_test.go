package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

const testKey = "glsa_monitorTestToken_4f2a9c"

// logBuf collects log lines (and mirrors them to the test log).
type logBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newLog returns a debug logger whose output must never contain the secrets.
func newLog(t testing.TB, secrets ...string) (*logger.Logger, *logBuf) {
	buf := &logBuf{t: t}
	l, err := logger.New("monitor", buf, "debug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range secrets {
			if strings.Contains(buf.String(), s) {
				t.Errorf("the log contains the secret %q", s)
			}
		}
	})
	return l, buf
}

func newGrafana(t testing.TB, o GrafanaOptions) *Grafana {
	t.Helper()
	g, err := NewGrafana(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// setup starts a double and a Grafana client for it, both with key.
func setup(t *testing.T, key string) (*grafanadouble.Server, *Grafana, *logBuf) {
	t.Helper()
	s := grafanadouble.StartTest(t, key)
	l, buf := newLog(t, key)
	return s, newGrafana(t, GrafanaOptions{URL: s.URL(), Key: key, Log: l, Timeout: 5 * time.Second}), buf
}

func hostList(ips ...string) []SlaveHost {
	var hs []SlaveHost
	for i, ip := range ips {
		hs = append(hs, SlaveHost{IP: netip.MustParseAddr(ip), Slaves: []SlaveRef{{ID: uint16(40000 + i), MetricsPort: 9100}}})
	}
	return hs
}

func mustSync(t *testing.T, g *Grafana, hosts []SlaveHost) {
	t.Helper()
	if err := g.Sync(context.Background(), hosts); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// lbState is the lb-* datasources of the double: name → url.
func lbState(s *grafanadouble.Server) map[string]string {
	out := map[string]string{}
	for _, ds := range s.Datasources() {
		if strings.HasPrefix(ds.Name, "lb-") {
			out[ds.Name] = ds.URL
		}
	}
	return out
}

func wantLB(ips ...string) map[string]string {
	out := map[string]string{}
	for _, ip := range ips {
		out["lb-"+ip] = "http://" + ip + ":9090"
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// count counts recorded requests by method and path prefix.
func count(s *grafanadouble.Server, method, prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func TestNewGrafanaOptions(t *testing.T) {
	tests := []struct {
		name string
		o    GrafanaOptions
		err  string // "" = valid
	}{
		{"defaults", GrafanaOptions{URL: "http://localhost:3000", Key: "k"}, ""},
		{"https with path", GrafanaOptions{URL: "https://g.example/grafana/", Key: "a:b"}, ""},
		{"no URL", GrafanaOptions{Key: "k"}, "want http"},
		{"bad scheme", GrafanaOptions{URL: "ftp://x", Key: "k"}, "want http"},
		{"no host", GrafanaOptions{URL: "http://", Key: "k"}, "no host"},
		{"credentials in URL", GrafanaOptions{URL: "http://admin:secret@x", Key: "k"}, "credentials"},
		{"query", GrafanaOptions{URL: "http://x/?a=b", Key: "k"}, "query"},
		{"unparsable", GrafanaOptions{URL: "http://x:badport", Key: "k"}, "grafana URL"},
		{"empty key", GrafanaOptions{URL: "http://x"}, "key is empty"},
		{"key with newline", GrafanaOptions{URL: "http://x", Key: "tok\n"}, "control"},
		{"port too big", GrafanaOptions{URL: "http://x", Key: "k", PrometheusPort: 70000}, "prometheus port"},
		{"negative port", GrafanaOptions{URL: "http://x", Key: "k", PrometheusPort: -1}, "prometheus port"},
		{"bad dashboard uid", GrafanaOptions{URL: "http://x", Key: "k", DashboardUID: "a/b"}, "dashboard uid"},
		{"long dashboard uid", GrafanaOptions{URL: "http://x", Key: "k", DashboardUID: strings.Repeat("a", 41)}, "dashboard uid"},
		{"negative timeout", GrafanaOptions{URL: "http://x", Key: "k", Timeout: -time.Second}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGrafana(tc.o)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				defer g.Close()
				if g.opts.PrometheusPort != 9090 || g.opts.DashboardUID != "plugnplay-lb" || g.opts.Timeout != DefaultGrafanaTimeout || g.log == nil {
					t.Errorf("defaults not applied: %+v", g.opts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the URL password: %v", err)
			}
		})
	}
}

func TestSyncFollowsHostsJoiningAndLeaving(t *testing.T) {
	s, g, logs := setup(t, testKey)

	mustSync(t, g, hostList("10.0.0.4", "10.0.0.2", "10.0.0.3"))
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.3", "10.0.0.4"); !equalMaps(got, want) {
		t.Fatalf("after 3 hosts: %v, want %v", got, want)
	}
	for _, ds := range s.Datasources() {
		if ds.Type != "prometheus" || ds.Access != "proxy" || ds.UID != strings.NewReplacer(".", "-").Replace(ds.Name) {
			t.Errorf("datasource %+v", ds)
		}
	}

	mustSync(t, g, hostList("10.0.0.2", "10.0.0.4"))
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.4"); !equalMaps(got, want) {
		t.Fatalf("after one left: %v, want %v", got, want)
	}
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.4", "10.0.0.7"))
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.4", "10.0.0.7"); !equalMaps(got, want) {
		t.Fatalf("after one joined: %v, want %v", got, want)
	}
	if n := count(s, "POST", "/api/datasources"); n != 4 {
		t.Errorf("%d datasource creations, want 4", n)
	}
	for _, line := range []string{`msg="datasource added" name="lb-10.0.0.2"`, `msg="datasource deleted" name="lb-10.0.0.3"`, `msg="dashboard written"`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %s", line)
		}
	}

	// Nothing changed: Grafana is read back (datasources, dashboard, each
	// datasource's health), and nothing is written.
	s.ResetRequests()
	mustSync(t, g, hostList("10.0.0.7", "10.0.0.4", "10.0.0.2"))
	if n, gets := len(s.Requests()), count(s, "GET", "/api/"); n != gets || gets != 2+3 {
		t.Errorf("a Sync with nothing to do made %d requests, %d of them GETs, want 5 GETs: %+v", n, gets, s.Requests())
	}
}

func TestSyncDashboardCoversEveryHost(t *testing.T) {
	s, g, _ := setup(t, testKey)
	ips := []string{"10.0.0.2", "10.0.0.3", "192.168.1.20"}
	mustSync(t, g, hostList(ips[2], ips[0], ips[1]))

	d, ok := s.Dashboard(DefaultDashboardUID)
	if !ok {
		t.Fatalf("no dashboard %q; have %+v", DefaultDashboardUID, s.Dashboards())
	}
	var got gotDashboard
	if err := json.Unmarshal(d.JSON, &got); err != nil {
		t.Fatal(err)
	}
	uidOf := map[string]string{}
	for _, ds := range s.Datasources() {
		uidOf[strings.TrimPrefix(ds.Name, "lb-")] = ds.UID
	}
	checkDashboard(t, got, ips, uidOf)
}

func TestSyncOneDashboardStableUID(t *testing.T) {
	s, g, _ := setup(t, testKey)
	rounds := [][]SlaveHost{
		nil,
		hostList("10.0.0.2"),
		hostList("10.0.0.2"), // unchanged: no write
		hostList("10.0.0.2", "10.0.0.3"),
		hostList("10.0.0.3"),
		hostList("10.0.0.3"), // unchanged: no write
		nil,
	}
	for i, hosts := range rounds {
		if err := g.Sync(context.Background(), hosts); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if ds := s.Dashboards(); len(ds) != 1 || ds[0].UID != DefaultDashboardUID || ds[0].Version != 5 {
		t.Fatalf("dashboards %+v, want one %q at version 5", ds, DefaultDashboardUID)
	}
	writes := 0
	for _, r := range s.Requests() {
		if r.Method != "POST" || r.Path != "/api/dashboards/db" {
			continue
		}
		writes++
		var body struct {
			Dashboard map[string]any `json:"dashboard"`
			Overwrite bool           `json:"overwrite"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Dashboard["uid"] != DefaultDashboardUID || !body.Overwrite || body.Dashboard["title"] != dashboardTitle {
			t.Errorf("write %d: uid %v overwrite %v title %v", writes, body.Dashboard["uid"], body.Overwrite, body.Dashboard["title"])
		}
	}
	if writes != 5 {
		t.Errorf("%d dashboard writes, want 5 (first Sync and each change)", writes)
	}
	// The last host set is empty: the text panel.
	d, _ := s.Dashboard(DefaultDashboardUID)
	var got gotDashboard
	if err := json.Unmarshal(d.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Panels) != 1 || got.Panels[0].Type != "text" {
		t.Errorf("empty host set: panels %+v", got.Panels)
	}
}

func TestSyncCustomDashboardUIDAndPort(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	l, _ := newLog(t, testKey)
	g := newGrafana(t, GrafanaOptions{URL: s.URL() + "/", Key: testKey, Log: l, DashboardUID: "my_board-1", PrometheusPort: 9091})
	mustSync(t, g, hostList("10.1.2.3"))
	if ds, ok := s.DatasourceByName("lb-10.1.2.3"); !ok || ds.URL != "http://10.1.2.3:9091" {
		t.Errorf("datasource %+v %v", ds, ok)
	}
	if _, ok := s.Dashboard("my_board-1"); !ok || len(s.Dashboards()) != 1 {
		t.Errorf("dashboards %+v", s.Dashboards())
	}
}

func TestSyncGrafanaDownThenUp(t *testing.T) {
	tests := []struct {
		name    string
		down    func(*grafanadouble.Server) error
		up      func(*grafanadouble.Server) error
		wantErr error
		wantLog string
	}{
		{
			name:    "503",
			down:    func(s *grafanadouble.Server) error { s.SetDown(true); return nil },
			up:      func(s *grafanadouble.Server) error { s.SetDown(false); return nil },
			wantLog: `msg="Grafana step failed"`,
		},
		{
			name: "connection refused",
			down: func(s *grafanadouble.Server) error { return s.Close() },
			up: func(s *grafanadouble.Server) error {
				_, err := s.Start(s.Addr())
				return err
			},
			wantErr: ErrUnreachable,
			wantLog: `msg="Grafana unreachable at http://`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, g, logs := setup(t, testKey)
			mustSync(t, g, hostList("10.0.0.2", "10.0.0.3", "10.0.0.4"))

			if err := tc.down(s); err != nil {
				t.Fatal(err)
			}
			// 10.0.0.3 leaves and 10.0.0.5 joins while Grafana is down.
			now := hostList("10.0.0.2", "10.0.0.4", "10.0.0.5")
			// Every Sync starts by reading Grafana back, and stops there.
			for _, step := range []string{"list datasources", "list datasources"} {
				err := g.Sync(context.Background(), now)
				if err == nil {
					t.Fatal("Sync succeeded while Grafana is down")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), step) || !strings.Contains(err.Error(), "remaining steps skipped") {
					t.Errorf("error %v, want it to name %q", err, step)
				}
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %s", tc.wantLog)
			}

			if err := tc.up(s); err != nil {
				t.Fatal(err)
			}
			// Same host list as during the outage: the failed delete and
			// create are retried without the list changing again.
			mustSync(t, g, now)
			if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.4", "10.0.0.5"); !equalMaps(got, want) {
				t.Fatalf("after recovery: %v, want %v", got, want)
			}
			d, _ := s.Dashboard(DefaultDashboardUID)
			var got gotDashboard
			if err := json.Unmarshal(d.JSON, &got); err != nil {
				t.Fatal(err)
			}
			if titles := rowTitles(got); !slices.Equal(titles, []string{"10.0.0.2", "10.0.0.4", "10.0.0.5"}) {
				t.Errorf("dashboard rows %v", titles)
			}
		})
	}
}

// TestSyncRewritesDashboardAfterOutage: an outage alone does not make the
// monitor rewrite a dashboard Grafana still has.
func TestSyncRewritesDashboardAfterOutage(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	l, _ := newLog(t, testKey)
	g := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	hosts := hostList("10.0.0.2")
	mustSync(t, g, hosts)
	s.SetDown(true)
	if err := g.Sync(context.Background(), hosts); err == nil {
		t.Fatal("Sync succeeded while Grafana is down")
	}
	s.SetDown(false)
	mustSync(t, g, hosts)
	if d, _ := s.Dashboard(DefaultDashboardUID); d.Version != 1 {
		t.Errorf("dashboard version %d after the outage, want 1: it was read back, unchanged", d.Version)
	}
}

// TestSyncRetriesFailedDelete: one step fails (500), the others go on, and
// the failed delete is retried by the next Sync with the same hosts.
func TestSyncRetriesFailedDelete(t *testing.T) {
	s, g, _ := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.3"))

	s.SetFault(func(method, path string) int {
		if method == "DELETE" && strings.Contains(path, "10.0.0.3") {
			return http.StatusInternalServerError
		}
		return 0
	})
	now := hostList("10.0.0.2", "10.0.0.9")
	err := g.Sync(context.Background(), now)
	if err == nil || !strings.Contains(err.Error(), "delete datasource lb-10.0.0.3") || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("Sync error %v, want the failed delete named", err)
	}
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.3", "10.0.0.9"); !equalMaps(got, want) {
		t.Fatalf("after partial failure: %v, want %v", got, want)
	}
	if d, _ := s.Dashboard(DefaultDashboardUID); d.Version != 2 {
		t.Errorf("dashboard not rewritten despite the failed delete: version %d", d.Version)
	}

	s.SetFault(nil)
	mustSync(t, g, now)
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.9"); !equalMaps(got, want) {
		t.Fatalf("after retry: %v, want %v", got, want)
	}
}

func TestSyncWrongKey(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	for _, key := range []string{"glsa_wrongToken_123", "admin:wrongpass"} {
		t.Run(key, func(t *testing.T) {
			s.ResetRequests()
			l, logs := newLog(t, key, "wrongpass")
			g := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: key, Log: l})
			err := g.Sync(context.Background(), hostList("10.0.0.2"))
			if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "rejected the key") {
				t.Fatalf("error %v, want ErrUnauthorized", err)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "wrongpass") {
				t.Errorf("error leaks the key: %v", err)
			}
			if !strings.Contains(logs.String(), "Grafana rejected the key: check the service-account token") {
				t.Error("no clear log line for the 401")
			}
			if len(s.Datasources()) != 0 || len(s.Dashboards()) != 0 {
				t.Errorf("state changed: %+v %+v", s.Datasources(), s.Dashboards())
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("%d requests after a 401, want 1 (stop at the first)", n)
			}
		})
	}
}

func TestSyncRestartAdopts(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	s.AddDatasource(grafanadouble.Datasource{Name: "production-prometheus", Type: "prometheus", URL: "http://prom:9090"})
	s.AddDatasource(grafanadouble.Datasource{Name: "lb-not-an-ip", Type: "prometheus", URL: "http://x:9090"})
	s.AddDatasource(grafanadouble.Datasource{Name: "lb-010.0.0.1", Type: "prometheus", URL: "http://x:9090"})
	l, logs := newLog(t, testKey)

	first := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	mustSync(t, first, hostList("10.0.0.2", "10.0.0.3", "10.0.0.4"))
	first.Close()
	s.ResetRequests()

	// The monitor restarts; meanwhile 10.0.0.3 left and 10.0.0.5 joined.
	second := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	mustSync(t, second, hostList("10.0.0.2", "10.0.0.4", "10.0.0.5"))
	if got, want := lbState(s), wantLB("10.0.0.2", "10.0.0.4", "10.0.0.5"); !equalMaps(got, map[string]string{
		"lb-10.0.0.2": want["lb-10.0.0.2"], "lb-10.0.0.4": want["lb-10.0.0.4"], "lb-10.0.0.5": want["lb-10.0.0.5"],
		"lb-not-an-ip": "http://x:9090", "lb-010.0.0.1": "http://x:9090",
	}) {
		t.Fatalf("after restart: %v", got)
	}
	if _, ok := s.DatasourceByName("production-prometheus"); !ok {
		t.Fatal("a datasource that is not ours was deleted")
	}
	var posts []string
	for _, r := range s.Requests() {
		if r.Status == http.StatusConflict {
			t.Errorf("409 on %s %s: the restart should adopt, not recreate", r.Method, r.Path)
		}
		if r.Method == "POST" && r.Path == "/api/datasources" {
			posts = append(posts, string(r.Body))
		}
		if r.Method == "DELETE" && !strings.HasSuffix(r.Path, "lb-10.0.0.3") {
			t.Errorf("unexpected delete %s", r.Path)
		}
	}
	if len(posts) != 1 || !strings.Contains(posts[0], "lb-10.0.0.5") {
		t.Errorf("datasource creations after restart: %v, want only lb-10.0.0.5", posts)
	}
	if ds := s.Dashboards(); len(ds) != 1 || ds[0].Version != 2 {
		t.Errorf("dashboards %+v, want the one dashboard rewritten once", ds)
	}
	if !strings.Contains(logs.String(), `msg="datasource adopted" name="lb-10.0.0.2"`) {
		t.Error("no log line for the adoption")
	}
}

// TestSyncAdoptsOnConflict: a datasource made by someone else between our
// list and our create answers 409; that is adoption, not failure, and the
// dashboard uses its uid.
func TestSyncAdoptsOnConflict(t *testing.T) {
	s, g, logs := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2"))
	var once sync.Once
	s.SetFault(func(method, path string) int {
		if method == "POST" && path == "/api/datasources" {
			once.Do(func() {
				s.AddDatasource(grafanadouble.Datasource{Name: "lb-10.0.0.8", UID: "handmade", Type: "prometheus", Access: "proxy", URL: "http://10.0.0.8:9090"})
			})
		}
		return 0
	})

	mustSync(t, g, hostList("10.0.0.2", "10.0.0.8"))
	if n := len(s.Datasources()); n != 2 {
		t.Fatalf("%d datasources, want 2", n)
	}
	conflicts := 0
	for _, r := range s.Requests() {
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	if conflicts != 1 || !strings.Contains(logs.String(), `msg="datasource adopted" name="lb-10.0.0.8" uid="handmade"`) {
		t.Errorf("conflicts %d; adoption not logged", conflicts)
	}
	d, _ := s.Dashboard(DefaultDashboardUID)
	var got gotDashboard
	if err := json.Unmarshal(d.JSON, &got); err != nil {
		t.Fatal(err)
	}
	checkDashboard(t, got, []string{"10.0.0.2", "10.0.0.8"}, map[string]string{"10.0.0.2": "lb-10-0-0-2", "10.0.0.8": "handmade"})
}

// TestSyncUIDTakenByAnotherName: our uid belongs to a datasource with
// another name; ours is created with a uid Grafana picks.
func TestSyncUIDTakenByAnotherName(t *testing.T) {
	s, g, _ := setup(t, testKey)
	s.AddDatasource(grafanadouble.Datasource{Name: "my-prom", UID: "lb-10-0-0-5", Type: "prometheus", URL: "http://10.0.0.5:9090"})
	mustSync(t, g, hostList("10.0.0.5"))
	ours, ok := s.DatasourceByName("lb-10.0.0.5")
	if !ok || ours.UID == "lb-10-0-0-5" || ours.URL != "http://10.0.0.5:9090" {
		t.Fatalf("ours %+v %v", ours, ok)
	}
	if theirs, ok := s.DatasourceByName("my-prom"); !ok || theirs.UID != "lb-10-0-0-5" {
		t.Fatalf("the other datasource changed: %+v %v", theirs, ok)
	}
	d, _ := s.Dashboard(DefaultDashboardUID)
	var got gotDashboard
	if err := json.Unmarshal(d.JSON, &got); err != nil {
		t.Fatal(err)
	}
	checkDashboard(t, got, []string{"10.0.0.5"}, map[string]string{"10.0.0.5": ours.UID})
}

func TestSyncReplacesWrongSettings(t *testing.T) {
	s, g, _ := setup(t, testKey)
	s.AddDatasource(grafanadouble.Datasource{Name: "lb-10.0.0.2", UID: "lb-10-0-0-2", Type: "prometheus", URL: "http://10.0.0.2:9999"})
	mustSync(t, g, hostList("10.0.0.2"))
	if got, want := lbState(s), wantLB("10.0.0.2"); !equalMaps(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestSyncLeavesReadOnlyAlone(t *testing.T) {
	s, g, _ := setup(t, testKey)
	s.AddDatasource(grafanadouble.Datasource{Name: "lb-10.0.0.6", UID: "prov", Type: "prometheus", URL: "http://10.0.0.6:9090", ReadOnly: true})
	mustSync(t, g, hostList("10.0.0.2")) // 10.0.0.6 is stale but provisioned
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.6"))
	if _, ok := s.DatasourceByName("lb-10.0.0.6"); !ok || count(s, "DELETE", "/api/") != 0 {
		t.Fatal("a read-only datasource was deleted or a delete was tried")
	}
}

func TestSyncRelistNoticesHandEdits(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	l, _ := newLog(t, testKey)
	g := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	mustSync(t, g, hostList("10.0.0.2"))
	ds, _ := s.DatasourceByName("lb-10.0.0.2")
	req, _ := http.NewRequest("DELETE", s.URL()+"/api/datasources/uid/"+ds.UID, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mustSync(t, g, hostList("10.0.0.2"))
	if _, ok := s.DatasourceByName("lb-10.0.0.2"); !ok {
		t.Fatal("a datasource deleted by hand was not recreated")
	}
}

func TestSyncBasicAuth(t *testing.T) {
	s, g, _ := setup(t, "admin:admin")
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.3"))
	mustSync(t, g, hostList("10.0.0.3"))
	if got, want := lbState(s), wantLB("10.0.0.3"); !equalMaps(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for _, r := range s.Requests() {
		if r.Auth != "basic" || !r.AuthOK {
			t.Errorf("%s %s: auth %s ok=%v", r.Method, r.Path, r.Auth, r.AuthOK)
		}
	}
}

func TestSyncBearerAuth(t *testing.T) {
	s, g, _ := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2"))
	for _, r := range s.Requests() {
		if r.Auth != "bearer" || !r.AuthOK {
			t.Errorf("%s %s: auth %s ok=%v", r.Method, r.Path, r.Auth, r.AuthOK)
		}
	}
}

func TestSyncNormalisesHosts(t *testing.T) {
	s, g, _ := setup(t, testKey)
	long := "fd12:3456:789a:1:2:3:4:5" // "lb-" + it, dashed, is over 40 characters
	hosts := append(hostList("10.0.0.2", "10.0.0.2", "::ffff:10.0.0.3", "fd00::1", long), SlaveHost{})
	mustSync(t, g, hosts)
	got := lbState(s)
	want := map[string]string{
		"lb-10.0.0.2": "http://10.0.0.2:9090", "lb-10.0.0.3": "http://10.0.0.3:9090",
		"lb-fd00::1": "http://[fd00::1]:9090", "lb-" + long: "http://[" + long + "]:9090",
	}
	if !equalMaps(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for _, ds := range s.Datasources() {
		if len(ds.UID) > 40 || !validUID(ds.UID) || !strings.HasPrefix(ds.UID, "lb-") {
			t.Errorf("uid %q of %s", ds.UID, ds.Name)
		}
	}
	// And they are recognised as ours after a restart: nothing to do.
	l, _ := newLog(t, testKey)
	s.ResetRequests()
	g2 := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	mustSync(t, g2, hosts)
	if n := count(s, "POST", "/api/datasources") + count(s, "DELETE", "/api/"); n != 0 {
		t.Errorf("%d changes after restart with the same hosts", n)
	}
}

func TestSyncCancelled(t *testing.T) {
	s, g, _ := setup(t, testKey)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Sync(ctx, hostList("10.0.0.2")); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests with a cancelled context", n)
	}
	mustSync(t, g, hostList("10.0.0.2")) // and it recovers
}

func TestSyncTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(srv.Close)
	l, _ := newLog(t, testKey)
	g := newGrafana(t, GrafanaOptions{URL: srv.URL, Key: testKey, Log: l, Timeout: 50 * time.Millisecond})
	err := g.Sync(context.Background(), hostList("10.0.0.2"))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("error %v, want ErrUnreachable after the timeout", err)
	}
}

// TestSyncOddAnswers: whatever comes back, Sync returns an error and does not
// panic (the sdk's raw dashboard calls would on a non-200 without "message").
func TestSyncOddAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"502 html", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			fmt.Fprint(w, "<html>bad gateway</html>")
		}, "HTTP 502: <html>bad gateway</html>"},
		{"200 not json", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "hello")
		}, "unreadable answer (HTTP 200)"},
		{"list ok, rest 500 json without message", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "GET" {
				listOrNotFound(w, r)
				return
			}
			w.WriteHeader(500)
			fmt.Fprint(w, `{"error":"boom"}`)
		}, `write dashboard plugnplay-lb: HTTP 500: {"error":"boom"}`},
		{"dashboard 412", func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == "GET":
				listOrNotFound(w, r)
			case strings.HasPrefix(r.URL.Path, "/api/dashboards"):
				w.WriteHeader(412)
				fmt.Fprint(w, `{"status":"version-mismatch","message":"The dashboard has been changed by someone else"}`)
			default:
				fmt.Fprint(w, `{"id":1,"message":"Datasource added"}`)
			}
		}, "HTTP 412: The dashboard has been changed by someone else"},
		{"403", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"message":"You'll need additional permissions to perform this action."}`)
		}, "lacks permission"},
		{"echoes the key", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"message":"bad header `+r.Header.Get("Authorization")+`"}`)
		}, "bad header Bearer [redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			l, _ := newLog(t, testKey)
			g := newGrafana(t, GrafanaOptions{URL: srv.URL, Key: testKey, Log: l})
			err := g.Sync(context.Background(), hostList("10.0.0.2"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestSyncConcurrentCalls(t *testing.T) {
	s, g, _ := setup(t, testKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- g.Sync(context.Background(), hostList("10.0.0.2", fmt.Sprintf("10.0.1.%d", i%2)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	mustSync(t, g, hostList("10.0.0.2"))
	if got, want := lbState(s), wantLB("10.0.0.2"); !equalMaps(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestManagedIP(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"lb-10.0.0.2", true},
		{"lb-fd00::1", true},
		{"lb-10.0.0.2x", false},
		{"lb-010.0.0.2", false},
		{"lb-FD00::1", false},
		{"lb-::ffff:10.0.0.2", false},
		{"lb-fe80::1%eth0", false},
		{"lb-", false},
		{"prometheus", false},
		{"LB-10.0.0.2", false},
	}
	for _, tc := range tests {
		if _, ok := managedIP(tc.name); ok != tc.ok {
			t.Errorf("managedIP(%q) = %v, want %v", tc.name, ok, tc.ok)
		}
	}
	for _, s := range []string{"10.0.0.2", "fd00::1", "fd12:3456:789a:1:2:3:4:5"} {
		ip := netip.MustParseAddr(s)
		if got, ok := managedIP(datasourceName(ip)); !ok || got != ip {
			t.Errorf("round trip of %s: %v %v", s, got, ok)
		}
		if uid := datasourceUID(ip); !validUID(uid) || datasourceUID(ip) != uid {
			t.Errorf("uid of %s: %q", s, uid)
		}
	}
	if got := datasourceUID(netip.MustParseAddr("10.0.0.2")); got != "lb-10-0-0-2" {
		t.Errorf("uid %q", got)
	}
}

// listOrNotFound answers GET /api/datasources with an empty list and any
// other GET with Grafana's 404.
func listOrNotFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/datasources" {
		fmt.Fprint(w, "[]")
		return
	}
	w.WriteHeader(404)
	fmt.Fprint(w, `{"message":"Not found"}`)
}

// Rewriting the dashboard for hosts that joined or left is no repair; a
// dashboard edited by hand, with the same hosts, is put back and counted.
func TestSyncCountsOnlyRealRepairs(t *testing.T) {
	s, g, _ := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2"))
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.3"))
	if n, last, _ := g.Repairs(); n != 0 {
		t.Fatalf("%d repairs (last %q) after hosts changed, want 0", n, last)
	}
	d, ok := s.Dashboard(DefaultDashboardUID)
	if !ok {
		t.Fatal("no dashboard")
	}
	var model map[string]any
	if err := json.Unmarshal(d.JSON, &model); err != nil {
		t.Fatal(err)
	}
	model["title"] = "edited by hand"
	body, _ := json.Marshal(map[string]any{"dashboard": model, "overwrite": true})
	req, _ := http.NewRequest("POST", s.URL()+"/api/dashboards/db", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req) // no idle connection left behind
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("editing the dashboard by hand: %s", resp.Status)
	}
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.3"))
	if n, last, _ := g.Repairs(); n != 1 || !strings.Contains(last, "differed") {
		t.Fatalf("%d repairs (last %q) after a hand edit, want 1, the dashboard that differed", n, last)
	}
}
