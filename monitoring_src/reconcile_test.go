package monitor_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitor "github.com/lbproject/loadbalancer/monitoring_src"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// repairStatus is the part of GET /api/status the reconcile test reads.
type repairStatus struct {
	Hosts []struct {
		IP            string `json:"ip"`
		Health        string `json:"health"`
		HealthMessage string `json:"health_message"`
	} `json:"hosts"`
	Grafana struct {
		Repairs    int    `json:"repairs"`
		LastRepair string `json:"last_repair"`
	} `json:"grafana"`
}

// The monitor reconciles every round: a dashboard deleted by hand, deleted
// datasources, and a Grafana that came back empty are all repaired by the
// next round, and the page's API shows each repair. It also reports, through
// Grafana's health check, that one host's Prometheus answers and the
// other's does not.
func TestMonitorRepairsGrafana(t *testing.T) {
	const key = "service-account-token" // what monitorOptions sends
	const interval = time.Second
	// One round, plus the round's own calls on a busy machine.
	const within = interval + 500*time.Millisecond

	// A Prometheus for host 127.0.0.1 only: Grafana's health check on
	// 127.0.0.2's datasource finds nothing at that address.
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query" {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[0,"2"]}}`)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(prom.Close)
	_, portStr, _ := net.SplitHostPort(prom.Listener.Addr().String())
	promPort, _ := strconv.Atoi(portStr)

	g := grafanadouble.StartTest(t, key)
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	disco := m.DiscoveryAddr().String()
	so := testutil.SlaveOptions(t, disco)
	so.TargetDir = ""
	testutil.StartSlave(t, so)
	testutil.StartFakeSlaveAt(t, "127.0.0.2", disco, 1000, testutil.FakeRefuse)
	testutil.WaitFor(t, 10*time.Second, "two slaves", func() bool { return m.Slaves() == 2 })

	o := monitorOptions(t, disco, g.URL())
	o.Interval = interval
	o.Grafana.PrometheusPort = promPort
	mon, _ := runMonitor(t, o)
	base := "http://" + mon.StatusAddr().String()

	wantDS := []string{"lb-127.0.0.1", "lb-127.0.0.2"}
	inStep := func() bool {
		_, ok := g.Dashboard(monitor.DefaultDashboardUID)
		return ok && slices.Equal(datasourceNames(g), wantDS)
	}
	testutil.WaitFor(t, 10*time.Second, "Grafana in step", inStep)
	var st repairStatus
	testutil.WaitFor(t, 10*time.Second, "both hosts' health checked", func() bool {
		st = getRepairStatus(t, base)
		return len(st.Hosts) == 2 && st.Hosts[0].Health != "unknown" && st.Hosts[1].Health != "unknown"
	})
	if st.Hosts[0].Health != "ok" || st.Hosts[1].Health != "failing" || !strings.Contains(st.Hosts[1].HealthMessage, "127.0.0.2") {
		t.Errorf("health %+v: want 127.0.0.1 ok, 127.0.0.2 failing with Grafana's reason", st.Hosts)
	}
	if st.Grafana.Repairs != 0 {
		t.Errorf("%d repairs before anything was broken", st.Grafana.Repairs)
	}

	api := func(method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, g.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	repairs := 0
	for _, tc := range []struct {
		name, wantRepair string
		breakIt          func()
	}{
		{"dashboard deleted", "dashboard", func() { api("DELETE", "/api/dashboards/uid/"+monitor.DefaultDashboardUID) }},
		{"datasources deleted", "datasource", func() {
			for _, ds := range g.Datasources() {
				api("DELETE", "/api/datasources/uid/"+ds.UID)
			}
		}},
		{"Grafana restarted empty", "", func() {
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			g.Reset()
			if _, err := g.Start(g.Addr()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		tc.breakIt()
		broken := time.Now()
		if inStep() {
			t.Fatalf("%s: nothing broken", tc.name)
		}
		testutil.WaitFor(t, 10*time.Second, tc.name+": repaired", inStep)
		took := time.Since(broken)
		if took > within {
			t.Errorf("%s: repaired after %s, want within one interval (%s)", tc.name, took, interval)
		}
		testutil.WaitFor(t, 5*time.Second, tc.name+": the repair on the page", func() bool {
			st = getRepairStatus(t, base)
			return st.Grafana.Repairs > repairs
		})
		if !strings.Contains(st.Grafana.LastRepair, tc.wantRepair) || !strings.Contains(st.Grafana.LastRepair, "missing") {
			t.Errorf("%s: last repair %q", tc.name, st.Grafana.LastRepair)
		}
		t.Logf("%s: repaired after %s; %d repairs, the last %q", tc.name, took.Round(time.Millisecond), st.Grafana.Repairs, st.Grafana.LastRepair)
		repairs = st.Grafana.Repairs
	}
}

func getRepairStatus(t *testing.T, base string) repairStatus {
	t.Helper()
	var st repairStatus
	code, _, body := testutil.Get(t, base+"/api/status", "")
	if code != 200 {
		t.Fatalf("GET /api/status: %d", code)
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return st
}
