package grafanadouble

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	sdk "github.com/grafana-tools/sdk"
)

const token = "glsa_testtoken_0123456789"

// client talks to a double with a fixed Authorization header.
type client struct {
	t    *testing.T
	base string
	auth string
}

func bearer(k string) string { return "Bearer " + k }
func basic(k string) string  { return "Basic " + base64.StdEncoding.EncodeToString([]byte(k)) }

func newClient(t *testing.T, s *Server, auth string) client {
	return client{t: t, base: s.URL(), auth: auth}
}

// do sends a request and decodes a JSON answer into a generic value.
func (c client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: answer %q: %v", method, path, raw, err)
		}
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		c.t.Errorf("%s %s: Content-Type %q", method, path, got)
	}
	return resp.StatusCode, out
}

func promDS(name string) map[string]any {
	return map[string]any{"name": name, "type": "prometheus", "access": "proxy", "url": "http://10.0.0.2:9090"}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name, key, auth, method, path string
		want                          int
	}{
		{"no header", token, "", "GET", "/api/datasources", 401},
		{"wrong token", token, bearer("nope"), "GET", "/api/datasources", 401},
		{"right token", token, bearer(token), "GET", "/api/datasources", 200},
		{"token sent as basic user:pass", token, basic("admin:" + token), "GET", "/api/datasources", 401},
		{"token as api_key basic", token, basic("api_key:" + token), "GET", "/api/datasources", 200},
		{"basic key, right basic", "admin:admin", basic("admin:admin"), "GET", "/api/datasources", 200},
		{"basic key, wrong password", "admin:admin", basic("admin:nope"), "GET", "/api/datasources", 401},
		{"basic key sent as bearer", "admin:admin", bearer("admin:admin"), "GET", "/api/datasources", 401},
		{"unknown scheme", token, "Token " + token, "GET", "/api/datasources", 401},
		{"garbage basic", "admin:admin", "Basic %%%", "GET", "/api/datasources", 401},
		{"health needs none", token, "", "GET", "/api/health", 200},
		{"post needs auth", token, "", "POST", "/api/datasources", 401},
		{"delete needs auth", token, bearer("x"), "DELETE", "/api/datasources/uid/x", 401},
		{"dashboard needs auth", token, "", "POST", "/api/dashboards/db", 401},
		{"unknown route needs auth too", token, "", "GET", "/api/nothing", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := StartTest(t, tc.key)
			code, body := newClient(t, s, tc.auth).do(tc.method, tc.path, nil)
			if code != tc.want {
				t.Fatalf("status %d, want %d (%v)", code, tc.want, body)
			}
			if code == 401 && body["message"] != "Unauthorized" {
				t.Errorf("401 body %v", body)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].AuthOK != (tc.want != 401 && tc.auth != "") || reqs[0].Status != code {
				t.Errorf("recorded %+v", reqs)
			}
		})
	}
}

func TestDatasourceContract(t *testing.T) {
	s := StartTest(t, token)
	c := newClient(t, s, bearer(token))

	code, body := c.do("POST", "/api/datasources", map[string]any{
		"name": "lb-10.0.0.2", "type": "prometheus", "access": "proxy",
		"url": "http://10.0.0.2:9090", "uid": "lb-10-0-0-2",
	})
	if code != 200 || body["message"] != "Datasource added" || body["name"] != "lb-10.0.0.2" || body["id"] != 1.0 {
		t.Fatalf("create: %d %v", code, body)
	}
	if ds, _ := body["datasource"].(map[string]any); ds["uid"] != "lb-10-0-0-2" || ds["url"] != "http://10.0.0.2:9090" {
		t.Fatalf("create: datasource %v", body["datasource"])
	}

	tests := []struct {
		name, method, path string
		body               any
		want               int
		message            string
	}{
		{"duplicate name", "POST", "/api/datasources", promDS("lb-10.0.0.2"), 409, "data source with the same name already exists"},
		{"duplicate uid", "POST", "/api/datasources", map[string]any{"name": "other", "type": "prometheus", "uid": "lb-10-0-0-2"}, 409, "data source with the same uid already exists"},
		{"no name", "POST", "/api/datasources", map[string]any{"type": "prometheus"}, 400, "bad request data"},
		{"no type", "POST", "/api/datasources", map[string]any{"name": "x"}, 400, "bad request data"},
		{"not json", "POST", "/api/datasources", "not an object", 400, "bad request data"},
		{"bad url", "POST", "/api/datasources", map[string]any{"name": "x", "type": "prometheus", "url": "ftp://x"}, 400, "Validation error, invalid URL"},
		{"bad uid", "POST", "/api/datasources", map[string]any{"name": "x", "type": "prometheus", "uid": "a.b"}, 400, "Invalid datasource UID."},
		{"long uid", "POST", "/api/datasources", map[string]any{"name": "x", "type": "prometheus", "uid": strings.Repeat("a", 41)}, 400, "Invalid datasource UID."},
		{"get by name", "GET", "/api/datasources/name/lb-10.0.0.2", nil, 200, ""},
		{"get by uid", "GET", "/api/datasources/uid/lb-10-0-0-2", nil, 200, ""},
		{"get by id", "GET", "/api/datasources/1", nil, 200, ""},
		{"get missing name", "GET", "/api/datasources/name/nope", nil, 404, "Data source not found"},
		{"get missing uid", "GET", "/api/datasources/uid/nope", nil, 404, "Data source not found"},
		{"get bad id", "GET", "/api/datasources/abc", nil, 400, "id is invalid"},
		{"delete missing uid", "DELETE", "/api/datasources/uid/nope", nil, 404, "Data source not found"},
		{"delete missing name", "DELETE", "/api/datasources/name/nope", nil, 404, "Data source not found"},
		{"delete missing id", "DELETE", "/api/datasources/99", nil, 404, "Data source not found"},
		{"delete by uid", "DELETE", "/api/datasources/uid/lb-10-0-0-2", nil, 200, "Data source deleted"},
		{"delete again", "DELETE", "/api/datasources/uid/lb-10-0-0-2", nil, 404, "Data source not found"},
		{"name free again", "POST", "/api/datasources", promDS("lb-10.0.0.2"), 200, "Datasource added"},
		{"delete by name", "DELETE", "/api/datasources/name/lb-10.0.0.2", nil, 200, "Data source deleted"},
	}
	for _, tc := range tests {
		code, body := c.do(tc.method, tc.path, tc.body)
		if code != tc.want || (tc.message != "" && body["message"] != tc.message) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, code, body, tc.want, tc.message)
		}
	}
	if got := s.Datasources(); len(got) != 0 {
		t.Errorf("left over: %+v", got)
	}
}

func TestListShapeAndOrder(t *testing.T) {
	s := StartTest(t, token)
	s.AddDatasource(Datasource{Name: "zeta", Type: "loki", URL: "http://l:3100"})
	s.AddDatasource(Datasource{Name: "Alpha", Type: "prometheus", URL: "http://p:9090", UID: "alpha"})
	req, _ := http.NewRequest("GET", s.URL()+"/api/datasources", nil)
	req.Header.Set("Authorization", bearer(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["name"] != "Alpha" || list[1]["name"] != "zeta" {
		t.Fatalf("list %v", list)
	}
	for _, field := range []string{"id", "uid", "orgId", "name", "type", "typeName", "access", "url", "isDefault", "jsonData", "readOnly"} {
		if _, ok := list[0][field]; !ok {
			t.Errorf("list item lacks %q: %v", field, list[0])
		}
	}
}

func TestReadOnlyDatasource(t *testing.T) {
	s := StartTest(t, token)
	s.AddDatasource(Datasource{Name: "prov", Type: "prometheus", UID: "prov", ReadOnly: true})
	code, body := newClient(t, s, bearer(token)).do("DELETE", "/api/datasources/uid/prov", nil)
	if code != 403 || body["message"] != "Cannot delete read-only data source" {
		t.Fatalf("%d %v", code, body)
	}
}

func dash(uid, title string, version any) map[string]any {
	d := map[string]any{"uid": uid, "title": title, "panels": []any{}, "schemaVersion": 39}
	if version != nil {
		d["version"] = version
	}
	return map[string]any{"dashboard": d, "overwrite": false}
}

func TestDashboardContract(t *testing.T) {
	s := StartTest(t, token)
	c := newClient(t, s, bearer(token))
	over := dash("lb", "LB", nil)
	over["overwrite"] = true

	tests := []struct {
		name, method, path string
		body               any
		want               int
		check              map[string]any
	}{
		{"no title", "POST", "/api/dashboards/db", dash("lb", "", nil), 400, map[string]any{"message": "Dashboard title cannot be empty"}},
		{"blank title", "POST", "/api/dashboards/db", dash("lb", "  ", nil), 400, nil},
		{"no dashboard", "POST", "/api/dashboards/db", map[string]any{"overwrite": true}, 400, nil},
		{"bad uid", "POST", "/api/dashboards/db", dash("a/b", "x", nil), 400, map[string]any{"message": "uid contains illegal characters"}},
		{"long uid", "POST", "/api/dashboards/db", dash(strings.Repeat("u", 41), "x", nil), 400, nil},
		{"get missing", "GET", "/api/dashboards/uid/lb", nil, 404, map[string]any{"message": "Dashboard not found"}},
		{"create", "POST", "/api/dashboards/db", dash("lb", "LB", nil), 200,
			map[string]any{"status": "success", "uid": "lb", "version": 1.0, "slug": "lb", "url": "/d/lb/lb", "id": 1.0}},
		{"stale version, no overwrite", "POST", "/api/dashboards/db", dash("lb", "LB", nil), 412,
			map[string]any{"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}},
		{"wrong version, no overwrite", "POST", "/api/dashboards/db", dash("lb", "LB", 7), 412, map[string]any{"status": "version-mismatch"}},
		{"right version", "POST", "/api/dashboards/db", dash("lb", "LB", 1), 200, map[string]any{"version": 2.0, "id": 1.0}},
		{"overwrite", "POST", "/api/dashboards/db", over, 200, map[string]any{"version": 3.0, "uid": "lb"}},
		{"same title other uid", "POST", "/api/dashboards/db", dash("other", "lb", nil), 412, map[string]any{"status": "name-exists"}},
		{"get", "GET", "/api/dashboards/uid/lb", nil, 200, nil},
		{"slug get removed", "GET", "/api/dashboards/db/lb", nil, 404, nil},
		{"slug delete removed", "DELETE", "/api/dashboards/db/lb", nil, 404, nil},
		{"unknown id", "POST", "/api/dashboards/db", map[string]any{"dashboard": map[string]any{"id": 42, "title": "x"}}, 404, nil},
		{"generated uid", "POST", "/api/dashboards/db", map[string]any{"dashboard": map[string]any{"title": "Other"}}, 200, map[string]any{"version": 1.0}},
	}
	for _, tc := range tests {
		code, body := c.do(tc.method, tc.path, tc.body)
		if code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, body, tc.want)
			continue
		}
		for k, v := range tc.check {
			if body[k] != v {
				t.Errorf("%s: %s = %v, want %v (%v)", tc.name, k, body[k], v, body)
			}
		}
	}

	code, body := c.do("GET", "/api/dashboards/uid/lb", nil)
	model, _ := body["dashboard"].(map[string]any)
	meta, _ := body["meta"].(map[string]any)
	if code != 200 || model["uid"] != "lb" || model["version"] != 3.0 || model["title"] != "LB" || model["id"] != 1.0 {
		t.Errorf("get: %d %v", code, body)
	}
	if meta["slug"] != "lb" || meta["version"] != 3.0 || meta["type"] != "db" {
		t.Errorf("meta: %v", meta)
	}
	if len(s.Dashboards()) != 2 {
		t.Errorf("dashboards: %+v", s.Dashboards())
	}
	if d, ok := s.Dashboard("lb"); !ok || d.Version != 3 {
		t.Errorf("Dashboard(lb) = %+v %v", d, ok)
	}
	if code, _ := c.do("DELETE", "/api/dashboards/uid/lb", nil); code != 200 {
		t.Errorf("delete by uid: %d", code)
	}
	if code, _ := c.do("DELETE", "/api/dashboards/uid/lb", nil); code != 404 {
		t.Errorf("delete again: %d", code)
	}
}

func TestDownAndUp(t *testing.T) {
	s := StartTest(t, token)
	c := newClient(t, s, bearer(token))
	s.SetDown(true)
	for _, path := range []string{"/api/datasources", "/api/health"} {
		if code, _ := c.do("GET", path, nil); code != 503 {
			t.Errorf("down: GET %s = %d", path, code)
		}
	}
	if code, _ := c.do("POST", "/api/datasources", promDS("x")); code != 503 || len(s.Datasources()) != 0 {
		t.Errorf("down: POST = %d, %d datasources", code, len(s.Datasources()))
	}
	s.SetDown(false)
	if code, _ := c.do("GET", "/api/datasources", nil); code != 200 {
		t.Errorf("up: %d", code)
	}

	// The control routes do the same for a double in another process.
	nc := newClient(t, s, "")
	if code, _ := nc.do("POST", "/_double/down", nil); code != 200 {
		t.Fatal(code)
	}
	if code, _ := c.do("GET", "/api/datasources", nil); code != 503 {
		t.Errorf("down via control: %d", code)
	}
	nc.do("POST", "/_double/up", nil)
	c.do("POST", "/api/datasources", promDS("lb-10.0.0.2"))
	code, state := nc.do("GET", "/_double/state", nil)
	if dss, _ := state["datasources"].([]any); code != 200 || state["down"] != false || len(dss) != 1 {
		t.Errorf("state: %d %v", code, state)
	}
}

func TestCloseRefusesThenRestartKeepsState(t *testing.T) {
	s := StartTest(t, token)
	addr := s.Addr()
	newClient(t, s, bearer(token)).do("POST", "/api/datasources", promDS("kept"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := http.Get("http://" + addr + "/api/health")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after Close: %v, want connection refused", err)
	}
	if _, err := s.Start(addr); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.DatasourceByName("kept"); !ok {
		t.Fatal("state lost across restart")
	}
	if code, _ := newClient(t, s, bearer(token)).do("GET", "/api/datasources/name/kept", nil); code != 200 {
		t.Fatalf("after restart: %d", code)
	}
	if _, err := s.Start(addr); err == nil {
		t.Fatal("second Start while running succeeded")
	}
}

func TestFault(t *testing.T) {
	s := StartTest(t, token)
	s.SetFault(func(method, path string) int {
		if method == "DELETE" {
			return 500
		}
		return 0
	})
	c := newClient(t, s, bearer(token))
	c.do("POST", "/api/datasources", promDS("x"))
	if code, _ := c.do("DELETE", "/api/datasources/name/x", nil); code != 500 {
		t.Errorf("fault: %d", code)
	}
	s.SetFault(nil)
	if code, _ := c.do("DELETE", "/api/datasources/name/x", nil); code != 200 {
		t.Errorf("no fault: %d", code)
	}
}

// TestSDKTraps pins down the sdk behaviour the monitor works around: its
// datasource create and delete report err == nil on 409, 404 and 401.
func TestSDKTraps(t *testing.T) {
	s := StartTest(t, "admin:admin")
	ctx := context.Background()
	good, err := sdk.NewClient(s.URL(), "admin:admin", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	ds := sdk.Datasource{Name: "lb-10.0.0.2", Type: "prometheus", Access: "proxy", URL: "http://10.0.0.2:9090"}
	if sm, err := good.CreateDatasource(ctx, ds); err != nil || sm.ID == nil {
		t.Fatalf("create: %+v %v", sm, err)
	}
	sm, err := good.CreateDatasource(ctx, ds)
	if err != nil || sm.Message == nil || *sm.Message != "data source with the same name already exists" {
		t.Errorf("duplicate create: %+v %v (the sdk hides the 409)", sm, err)
	}
	sm, err = good.DeleteDatasourceByName(ctx, "nope")
	if err != nil || sm.Message == nil || *sm.Message != "Data source not found" {
		t.Errorf("delete missing: %+v %v (the sdk hides the 404)", sm, err)
	}
	bad, _ := sdk.NewClient(s.URL(), "admin:wrong", http.DefaultClient)
	if sm, err := bad.CreateDatasource(ctx, ds); err != nil || sm.Message == nil || *sm.Message != "Unauthorized" {
		t.Errorf("wrong key: %+v %v (the sdk hides the 401)", sm, err)
	}
	if _, err := bad.GetAllDatasources(ctx); err == nil {
		t.Error("GetAllDatasources with a wrong key: no error")
	}
	if _, err := good.DeleteDashboard(ctx, "db/lb"); err != nil {
		t.Logf("slug delete: %v", err)
	}
	var authOK, basicSeen bool
	for _, r := range s.Requests() {
		if r.Path == "/api/dashboards/db/lb" && r.Status != 404 {
			t.Errorf("slug route answered %d, want 404", r.Status)
		}
		authOK = authOK || r.AuthOK
		basicSeen = basicSeen || r.Auth == "basic"
	}
	if !authOK || !basicSeen {
		t.Error("the sdk's user:password key did not arrive as basic auth")
	}
}

func TestConcurrentUse(t *testing.T) {
	s := StartTest(t, token)
	send := func(method, path string, body any) error {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequest(method, s.URL()+path, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", bearer(token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return errors.New(method + " " + path + ": " + resp.Status)
		}
		return nil
	}
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			name := "ds" + string(rune('a'+i))
			err := errors.Join(
				send("POST", "/api/datasources", promDS(name)),
				send("GET", "/api/datasources", nil),
				send("POST", "/api/dashboards/db", map[string]any{"dashboard": map[string]any{"uid": "d", "title": "D"}, "overwrite": true}),
			)
			_ = s.Datasources()
			_ = s.Requests()
			errs <- errors.Join(err, send("DELETE", "/api/datasources/name/"+name, nil))
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if d, ok := s.Dashboard("d"); !ok || d.Version != 8 || len(s.Datasources()) != 0 {
		t.Errorf("after concurrent use: %+v %v %d", d, ok, len(s.Datasources()))
	}
}

// The health route runs a query against the datasource's Prometheus, as
// Grafana's Prometheus plugin does: OK when it answers, 400 with the reason
// when not, 404 for an unknown uid, 401 without the key.
func TestDatasourceHealth(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != "1+1" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[0,"2"]}}`)
	}))
	defer prom.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // refuses connections from now on

	s := StartTest(t, token)
	s.AddDatasource(Datasource{Name: "up", UID: "up", Type: "prometheus", URL: prom.URL})
	s.AddDatasource(Datasource{Name: "down", UID: "down", Type: "prometheus", URL: deadURL})
	s.AddDatasource(Datasource{Name: "notprom", UID: "notprom", Type: "prometheus", URL: s.URL()})
	// StartTest's double must not send a packet off loopback: a made-up
	// host is refused before any dial, whatever the test's network.
	s.AddDatasource(Datasource{Name: "far", UID: "far", Type: "prometheus", URL: "http://192.0.2.7:9090"})
	s.AddDatasource(Datasource{Name: "local", UID: "local", Type: "prometheus", URL: strings.Replace(prom.URL, "127.0.0.1", "localhost", 1)})
	c := newClient(t, s, bearer(token))
	for _, tc := range []struct {
		uid, status string
		want        int
	}{
		{"up", "OK", 200},
		{"down", "ERROR", 400},
		{"notprom", "ERROR", 400},
		{"far", "ERROR", 400},
		{"local", "OK", 200},
		{"nope", "", 404},
	} {
		code, body := c.do("GET", "/api/datasources/uid/"+tc.uid+"/health", nil)
		if code != tc.want || (tc.status != "" && body["status"] != tc.status) || body["message"] == "" {
			t.Errorf("health of %s: %d %v, want %d status %q and a message", tc.uid, code, body, tc.want, tc.status)
		}
	}
	if _, body := c.do("GET", "/api/datasources/uid/far/health", nil); !strings.Contains(fmt.Sprint(body["message"]), "loopback only") {
		t.Errorf("health of a host off loopback: %v, want the double's refusal", body)
	}
	if code, _ := newClient(t, s, "").do("GET", "/api/datasources/uid/up/health", nil); code != 401 {
		t.Errorf("health without a key: %d, want 401", code)
	}
}

// Reset is a Grafana back on an empty database.
func TestReset(t *testing.T) {
	s := StartTest(t, token)
	c := newClient(t, s, bearer(token))
	s.AddDatasource(Datasource{Name: "a", UID: "a", Type: "prometheus", URL: "http://10.0.0.2:9090"})
	if code, _ := c.do("POST", "/api/dashboards/db", map[string]any{"dashboard": map[string]any{"uid": "d", "title": "D"}}); code != 200 {
		t.Fatalf("save: %d", code)
	}
	code, _ := newClient(t, s, "").do("POST", "/_double/reset", nil)
	if code != 200 || len(s.Datasources()) != 0 || len(s.Dashboards()) != 0 {
		t.Fatalf("reset: %d, %d datasources, %d dashboards", code, len(s.Datasources()), len(s.Dashboards()))
	}
	if code, _ := c.do("GET", "/api/dashboards/uid/d", nil); code != 404 {
		t.Errorf("dashboard after reset: %d, want 404", code)
	}
}
