package monitor

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// With -prometheus-url the monitor keeps one datasource, lb-central, and
// each host's panels select the host by its label; per-host datasources
// left from the other mode are deleted.
func TestSyncCentralPrometheus(t *testing.T) {
	s := grafanadouble.StartTest(t, testKey)
	l, _ := newLog(t, testKey)
	perHost := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l})
	mustSync(t, perHost, hostList("10.0.0.2"))

	g := newGrafana(t, GrafanaOptions{URL: s.URL(), Key: testKey, Log: l, PrometheusURL: "http://10.0.5.9:9090"})
	mustSync(t, g, hostList("10.0.0.3", "10.0.0.2"))
	ds := s.Datasources()
	if len(ds) != 1 || ds[0].Name != "lb-central" || ds[0].URL != "http://10.0.5.9:9090" || ds[0].UID != "lb-central" {
		t.Fatalf("datasources %+v, want lb-central alone", ds)
	}
	d, ok := s.Dashboard(DefaultDashboardUID)
	if !ok {
		t.Fatal("no dashboard")
	}
	var got gotDashboard
	if err := json.Unmarshal(d.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if rows := rowTitles(got); strings.Join(rows, " ") != "10.0.0.2 10.0.0.3" {
		t.Errorf("rows %v, want one per host", rows)
	}
	for _, p := range got.Panels {
		if p.Type != "timeseries" {
			continue
		}
		host := p.Title[strings.LastIndexByte(p.Title, ' ')+1:]
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "lb-central" || !strings.Contains(tg.Expr, `host="`+host+`"`) {
				t.Errorf("panel %q: %s on %s, want host=%q on lb-central", p.Title, tg.Expr, tg.Datasource.UID, host)
			}
		}
	}
	if name, _ := g.HostDatasource(netip.MustParseAddr("10.0.0.2")); name != "lb-central" {
		t.Errorf("host datasource %q", name)
	}
}
