package monitor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// handDelete deletes through the double's API, as an operator would.
func handDelete(t *testing.T, s *grafanadouble.Server, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE %s: %d", path, resp.StatusCode)
	}
}

// An outage in a later step (a create answered 503) skips what follows,
// the dashboard included, and makes the next Sync rewrite the dashboard:
// Grafana may come back without it.
func TestSyncOutageInALaterStep(t *testing.T) {
	s, g, _ := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2"))
	s.SetFault(func(method, path string) int {
		if method == http.MethodPost && path == "/api/datasources" {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	s.ResetRequests()
	err := g.Sync(context.Background(), hostList("10.0.0.2", "10.0.0.3"))
	if err == nil || !strings.Contains(err.Error(), "remaining steps skipped") {
		t.Fatalf("Sync during the outage: %v, want the remaining steps skipped", err)
	}
	if n := count(s, http.MethodPost, "/api/dashboards/db"); n != 0 {
		t.Fatalf("the dashboard was written %d times after a fatal step", n)
	}
	s.SetFault(nil)
	handDelete(t, s, "/api/dashboards/uid/"+DefaultDashboardUID) // Grafana came back without it
	mustSync(t, g, hostList("10.0.0.2"))
	if _, ok := s.Dashboard(DefaultDashboardUID); !ok {
		t.Fatal("the dashboard was not rewritten after the outage")
	}
}

// A 401 on a later step is as fatal as one on the list.
func TestSyncUnauthorizedInALaterStep(t *testing.T) {
	s, g, _ := setup(t, testKey)
	s.SetFault(func(method, path string) int {
		if method == http.MethodPost && path == "/api/datasources" {
			return http.StatusUnauthorized
		}
		return 0
	})
	err := g.Sync(context.Background(), hostList("10.0.0.2", "10.0.0.3"))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "remaining steps skipped") {
		t.Fatalf("Sync: %v, want ErrUnauthorized and the remaining steps skipped", err)
	}
	if n := count(s, http.MethodPost, "/api/datasources"); n != 1 {
		t.Fatalf("%d creates tried after a 401, want 1", n)
	}
}

// A datasource deleted by hand meanwhile is simply gone: the delete's 404
// is no failure.
func TestSyncDeleteOfAMissingDatasource(t *testing.T) {
	s, g, _ := setup(t, testKey)
	mustSync(t, g, hostList("10.0.0.2", "10.0.0.3"))
	handDelete(t, s, "/api/datasources/name/lb-10.0.0.3")
	mustSync(t, g, hostList("10.0.0.2"))
	if got := g.ManagedDatasources(); len(got) != 1 || got[0] != "lb-10.0.0.2" {
		t.Fatalf("managed %v, want lb-10.0.0.2 alone", got)
	}
}

// A datasource of ours with the right URL but another type is replaced.
func TestSyncReplacesWrongType(t *testing.T) {
	s, g, _ := setup(t, testKey)
	s.AddDatasource(grafanadouble.Datasource{Name: "lb-10.0.0.2", UID: "lb-10-0-0-2", Type: "loki", URL: "http://10.0.0.2:9090"})
	mustSync(t, g, hostList("10.0.0.2"))
	if ds, ok := s.DatasourceByName("lb-10.0.0.2"); !ok || ds.Type != "prometheus" {
		t.Fatalf("lb-10.0.0.2 is %+v, want a prometheus datasource", ds)
	}
}

// A 3xx answer that is not followed is no success.
func TestSyncRedirectIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusMultipleChoices)
		_, _ = w.Write([]byte(`{"message":"pick one"}`))
	}))
	defer srv.Close()
	l, _ := newLog(t, testKey)
	g := newGrafana(t, GrafanaOptions{URL: srv.URL, Key: testKey, Log: l, Timeout: 5 * time.Second})
	err := g.Sync(context.Background(), hostList("10.0.0.2"))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusMultipleChoices || se.Message != "pick one" {
		t.Fatalf("Sync against a 300: %v, want a StatusError 300 with Grafana's message", err)
	}
}

func TestOutageAndFatal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err           error
		outage, fatal bool
	}{
		{&StatusError{Code: 502}, true, true},
		{&StatusError{Code: 503}, true, true},
		{&StatusError{Code: 504}, true, true},
		{&StatusError{Code: 500}, false, false},
		{&StatusError{Code: 401}, false, true},
		{&StatusError{Code: 403}, false, false},
		{&StatusError{Code: 409}, false, false},
		{ErrUnreachable, true, true},
		{context.Canceled, false, true},
	} {
		if got := isOutage(tc.err); got != tc.outage {
			t.Errorf("isOutage(%v) = %v, want %v", tc.err, got, tc.outage)
		}
		if got := isFatal(tc.err); got != tc.fatal {
			t.Errorf("isFatal(%v) = %v, want %v", tc.err, got, tc.fatal)
		}
	}
}

// Only the start of an error answer is kept.
func TestErrorBodyIsCapped(t *testing.T) {
	t.Parallel()
	c := &call{}
	b := &capturingBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", 3*maxErrorBody))), c: c}
	if n, err := io.Copy(io.Discard, b); err != nil || n != 3*maxErrorBody {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if len(c.body) != maxErrorBody {
		t.Fatalf("kept %d bytes of the error answer, want %d", len(c.body), maxErrorBody)
	}
}

// Every uid fits Grafana's 40 characters, the longest IPv6 address too.
func TestDatasourceUIDFits(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"10.0.0.2", "255.255.255.255", "fd00::1", "fd12:3456:789a:bcde:f012:3456:789a:bcde"} {
		uid := datasourceUID(netip.MustParseAddr(ip))
		if len(uid) > maxUIDLen || !validUID(uid) {
			t.Errorf("uid %q for %s: %d characters, want a valid uid of at most %d", uid, ip, len(uid), maxUIDLen)
		}
	}
}

// The hosts come sorted by IP, each host's slaves by ID, whatever the
// master's order; hosts are the same only with the same slaves.
func TestGroupByHost(t *testing.T) {
	t.Parallel()
	a, b := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.10")
	hosts := groupByHost([]packets.SlaveEntry{
		{IP: b, ID: 7, MetricsPort: 1}, {IP: a, ID: 9, MetricsPort: 2}, {IP: a, ID: 3, MetricsPort: 4},
	})
	want := []SlaveHost{
		{IP: a, Slaves: []SlaveRef{{ID: 3, MetricsPort: 4}, {ID: 9, MetricsPort: 2}}},
		{IP: b, Slaves: []SlaveRef{{ID: 7, MetricsPort: 1}}},
	}
	if len(hosts) != 2 || !sameHost(hosts[0], want[0]) || !sameHost(hosts[1], want[1]) {
		t.Fatalf("groupByHost = %+v, want %+v", hosts, want)
	}
	if sameHost(want[0], SlaveHost{IP: a, Slaves: want[0].Slaves[:1]}) {
		t.Fatal("hosts with different slaves taken for the same")
	}
}

// follow asks with a new sequence number each round, refuses an answer to
// another, and logs "in step" whenever the hosts change.
func TestFollowAsksInSequence(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	l, buf := newLog(t, testKey)
	o := NewOptions()
	o.Iface, o.Master, o.StatusAddr, o.Interval, o.Log = "lo", "127.0.0.1:9", "", 10*time.Millisecond, l
	o.Grafana = GrafanaOptions{URL: s.URL(), Key: testKey, Timeout: 5 * time.Second}
	mon, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.udp.Close()
	defer mon.ln.Close()
	defer mon.grafana.Close()
	ours, theirs := net.Pipe()
	defer theirs.Close()
	done := make(chan error, 1)
	go func() { done <- mon.follow(context.Background(), ours); ours.Close() }()

	ip := netip.MustParseAddr("10.0.0.2")
	rounds := [][]packets.SlaveEntry{
		{{IP: ip, ID: 1}},
		{{IP: ip, ID: 1}},
		{{IP: ip, ID: 1}, {IP: ip, ID: 2}}, // same host, another slave
	}
	r, w := theirs, packets.NewWriter(theirs)
	for i, entries := range rounds {
		_ = theirs.SetDeadline(time.Now().Add(10 * time.Second))
		m, err := packets.ReadFrame(r)
		req, ok := m.(packets.SlaveListRequest)
		if err != nil || !ok || req.Seq != uint32(i+1) {
			t.Fatalf("request %d: %#v, %v; want sequence number %d", i+1, m, err, i+1)
		}
		if err := w.Write(packets.SlaveList{Seq: req.Seq, Slaves: entries}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := packets.ReadFrame(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(packets.SlaveList{Seq: m.(packets.SlaveListRequest).Seq + 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "unexpected SlaveList") {
		t.Fatalf("follow after an answer to another request: %v", err)
	}
	if n := strings.Count(buf.String(), "Grafana in step"); n != 2 {
		t.Fatalf("%d \"Grafana in step\" lines, want 2: first, and when a slave joined", n)
	}
}
