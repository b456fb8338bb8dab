package monitor_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// status is the part of GET /api/status these tests read.
type status struct {
	Master struct {
		State     string     `json:"state"`
		Address   string     `json:"address"`
		LostAt    *time.Time `json:"lost_at"`
		LostCause string     `json:"lost_cause"`
	} `json:"master"`
	Slaves int `json:"slaves"`
	Hosts  []struct {
		IP        string `json:"ip"`
		InGrafana bool   `json:"in_grafana"`
		Slaves    []struct {
			ID          uint16 `json:"id"`
			MetricsPort uint16 `json:"metrics_port"`
		} `json:"slaves"`
	} `json:"hosts"`
	Grafana struct {
		State         string     `json:"state"`
		Syncs         int        `json:"syncs"`
		FailedSyncs   int        `json:"failed_syncs"`
		LastSuccessAt *time.Time `json:"last_success_at"`
		LastErrorAt   *time.Time `json:"last_error_at"`
		LastError     string     `json:"last_error"`
		Datasources   []string   `json:"datasources"`
	} `json:"grafana"`
}

func (s status) hostIPs() []string {
	var ips []string
	for _, h := range s.Hosts {
		ips = append(ips, h.IP)
	}
	return ips
}

// fetchStatus reads GET /api/status; it fails the test if the body holds
// the key.
func fetchStatus(t *testing.T, base, key string) status {
	t.Helper()
	code, hdr, body := testutil.Get(t, base+"/api/status", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/status: %d %q: %s", code, hdr.Get("Content-Type"), body)
	}
	if strings.Contains(body, key) {
		t.Fatalf("GET /api/status shows the Grafana key:\n%s", body)
	}
	var st status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return st
}

// waitStatus polls GET /api/status until cond holds, and returns what
// satisfied it.
func waitStatus(t *testing.T, base, key, what string, cond func(status) bool) status {
	t.Helper()
	var st status
	testutil.WaitFor(t, 10*time.Second, what, func() bool {
		st = fetchStatus(t, base, key)
		return cond(st)
	})
	return st
}

// The status JSON follows the monitor: the master connected, the slave
// hosts listed with their datasources, Grafana in step; Grafana down gives
// the error, Grafana back a success again; the master gone, looking again.
func TestMonitorStatusFollows(t *testing.T) {
	const key = "service-account-token" // what monitorOptions sends
	g := grafanadouble.StartTest(t, key)
	m, masterNode := testutil.StartMaster(t, testutil.MasterOptions(t))
	disco := m.DiscoveryAddr().String()
	so := testutil.SlaveOptions(t, disco)
	so.TargetDir = "" // publish no Prometheus target file from a test
	s, _ := testutil.StartSlave(t, so)
	testutil.StartFakeSlaveAt(t, "127.0.0.2", disco, 1000, testutil.FakeRefuse)
	testutil.WaitFor(t, 10*time.Second, "two slaves", func() bool { return m.Slaves() == 2 })

	o := monitorOptions(t, disco, g.URL())
	// A sync with nothing to change makes no request: list Grafana often,
	// so that an outage shows within a few rounds.
	mon, _ := runMonitor(t, o)
	base := "http://" + mon.StatusAddr().String()
	if code, _, body := testutil.Get(t, base+"/ok", ""); code != 200 || body != "ok\n" {
		t.Fatalf("GET /ok: %d %q", code, body)
	}

	wantDS := []string{"lb-127.0.0.1", "lb-127.0.0.2"}
	st := waitStatus(t, base, key, "the master, both hosts and a good sync", func(st status) bool {
		return st.Master.State == "connected" && slices.Equal(st.hostIPs(), []string{"127.0.0.1", "127.0.0.2"}) &&
			st.Grafana.State == "ok" && st.Grafana.LastSuccessAt != nil && slices.Equal(st.Grafana.Datasources, wantDS)
	})
	if st.Master.Address != disco {
		t.Errorf("master address %q, want %s", st.Master.Address, disco)
	}
	h := st.Hosts[0]
	metricsPort := s.MetricsAddr()[strings.LastIndexByte(s.MetricsAddr(), ':')+1:]
	if st.Slaves != 2 || len(h.Slaves) != 1 || h.Slaves[0].ID != s.ID() || fmt.Sprint(h.Slaves[0].MetricsPort) != metricsPort ||
		!h.InGrafana || !st.Hosts[1].InGrafana {
		t.Errorf("hosts %+v, want the slave %d (metrics port %s) on 127.0.0.1 and a fake on 127.0.0.2, both in Grafana",
			st.Hosts, s.ID(), metricsPort)
	}
	if st.Grafana.LastError != "" || st.Grafana.LastErrorAt != nil || st.Grafana.FailedSyncs != 0 {
		t.Errorf("an error before any outage: %+v", st.Grafana)
	}

	g.SetDown(true)
	down := waitStatus(t, base, key, "the outage as the last error", func(st status) bool {
		return st.Grafana.State == "failing" && st.Grafana.LastErrorAt != nil && st.Grafana.LastError != ""
	})
	t.Logf("last error while Grafana is down: %s", down.Grafana.LastError)
	if !strings.Contains(down.Grafana.LastError, "503") || down.Grafana.FailedSyncs == 0 ||
		!down.Grafana.LastErrorAt.After(*down.Grafana.LastSuccessAt) {
		t.Errorf("while down: %+v", down.Grafana)
	}

	g.SetDown(false)
	up := waitStatus(t, base, key, "a success after the outage", func(st status) bool {
		return st.Grafana.State == "ok" && st.Grafana.LastSuccessAt.After(*st.Grafana.LastErrorAt)
	})
	if up.Grafana.LastError == "" || !slices.Equal(up.Grafana.Datasources, wantDS) || up.Grafana.Syncs <= down.Grafana.Syncs {
		t.Errorf("after the outage: %+v; the last error stays, with its time, and the datasources are back", up.Grafana)
	}

	masterNode.Stop()
	lost := waitStatus(t, base, key, "the monitor to look for a master again", func(st status) bool {
		return st.Master.State == "looking" && st.Master.LostAt != nil
	})
	if lost.Master.Address != "" || lost.Master.LostCause == "" || len(lost.Hosts) != 2 {
		t.Errorf("master lost: %+v, hosts %v; want a cause and the last list kept", lost.Master, lost.hostIPs())
	}
}
