package monitor

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// gotDashboard is the part of the dashboard JSON the tests look at.
type gotDashboard struct {
	ID            any      `json:"id"`
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Tags          []string `json:"tags"`
	SchemaVersion int      `json:"schemaVersion"`
	Refresh       string   `json:"refresh"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Panels []gotPanel `json:"panels"`
}

type gotPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Options struct {
		Content string `json:"content"`
	} `json:"options"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		Datasource   struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

func rowTitles(d gotDashboard) []string {
	var out []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Title)
		}
	}
	return out
}

// checkDashboard checks the dashboard against the hosts (sorted) and the
// datasource uid of each.
func checkDashboard(t *testing.T, d gotDashboard, ips []string, uidOf map[string]string) {
	t.Helper()
	if d.UID != DefaultDashboardUID || d.Title != dashboardTitle || d.SchemaVersion != 39 || d.Refresh != "5s" ||
		d.Time.From != "now-15m" || d.Time.To != "now" || len(d.Tags) == 0 {
		t.Errorf("dashboard header: uid %q title %q schema %d refresh %q time %+v tags %v",
			d.UID, d.Title, d.SchemaVersion, d.Refresh, d.Time, d.Tags)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if p.ID <= 0 || ids[p.ID] {
			t.Errorf("panel id %d not unique and positive", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "graph" {
			t.Errorf("panel %q uses the removed graph type", p.Title)
		}
	}
	if got := rowTitles(d); !slices.Equal(got, ips) {
		t.Fatalf("rows %v, want %v", got, ips)
	}
	if len(d.Panels) != 3*len(ips) {
		t.Fatalf("%d panels, want 3 per host", len(d.Panels))
	}
	for i, ip := range ips {
		row, cpu, slaves := d.Panels[3*i], d.Panels[3*i+1], d.Panels[3*i+2]
		uid := uidOf[ip]
		if uid == "" {
			t.Fatalf("no datasource uid for %s", ip)
		}
		y := 9 * i
		if row.GridPos.Y != y || row.GridPos.W != 24 {
			t.Errorf("row %s at %+v", ip, row.GridPos)
		}
		for j, p := range []gotPanel{cpu, slaves} {
			if p.Type != "timeseries" || p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != uid {
				t.Errorf("%q: type %s datasource %+v, want timeseries on %s", p.Title, p.Type, p.Datasource, uid)
			}
			if p.GridPos.W != 12 || p.GridPos.H != 8 || p.GridPos.X != 12*j || p.GridPos.Y != y+1 {
				t.Errorf("%q at %+v", p.Title, p.GridPos)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.UID != uid || tg.Datasource.Type != "prometheus" {
					t.Errorf("%q target %s on %+v", p.Title, tg.RefID, tg.Datasource)
				}
			}
		}
		if cpu.Title != "CPU usage "+ip || cpu.FieldConfig.Defaults.Unit != "percent" ||
			len(cpu.Targets) != 1 || cpu.Targets[0].Expr != `100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))` {
			t.Errorf("CPU panel %+v", cpu)
		}
		want := [][2]string{
			{`rate(tasks_requested[1m])`, "{{instance}} requested/s"},
			{`rate(tasks_completed[1m])`, "{{instance}} completed/s"},
			{`current_load`, "{{instance}} load"},
		}
		var got [][2]string
		refs := map[string]bool{}
		for _, tg := range slaves.Targets {
			got = append(got, [2]string{tg.Expr, tg.LegendFormat})
			refs[tg.RefID] = true
		}
		if slaves.Title != "Slaves on "+ip || !slices.Equal(got, want) || len(refs) != 3 {
			t.Errorf("slaves panel %q targets %v", slaves.Title, got)
		}
	}
}

func decode(t *testing.T, raw []byte) gotDashboard {
	t.Helper()
	var d gotDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDashboardPerHost(t *testing.T) {
	tests := []struct {
		name string
		ips  []string
	}{
		{"one", []string{"10.0.0.2"}},
		{"three", []string{"10.0.0.2", "10.0.0.10", "192.168.0.1"}},
		{"ipv6", []string{"10.0.0.2", "fd00::1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hosts []dashboardHost
			uidOf := map[string]string{}
			for _, s := range tc.ips {
				ip := netip.MustParseAddr(s)
				hosts = append(hosts, dashboardHost{IP: ip, DatasourceUID: datasourceUID(ip)})
				uidOf[s] = datasourceUID(ip)
			}
			raw, err := dashboardJSON(DefaultDashboardUID, hosts)
			if err != nil {
				t.Fatal(err)
			}
			checkDashboard(t, decode(t, raw), tc.ips, uidOf)
			if again, _ := dashboardJSON(DefaultDashboardUID, hosts); !bytes.Equal(raw, again) {
				t.Error("the JSON is not deterministic")
			}
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if generic["id"] != nil {
				t.Errorf("id %v, want null", generic["id"])
			}
			for _, k := range []string{"templating", "annotations", "panels", "time", "timezone", "editable"} {
				if _, ok := generic[k]; !ok {
					t.Errorf("no %q", k)
				}
			}
		})
	}
}

func TestDashboardNoHosts(t *testing.T) {
	raw, err := dashboardJSON("x", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, raw)
	if d.UID != "x" || len(d.Panels) != 1 || d.Panels[0].Type != "text" ||
		!strings.Contains(d.Panels[0].Options.Content, "No slave hosts are known yet") {
		t.Fatalf("%+v", d)
	}
	if strings.Contains(string(raw), `"graph"`) {
		t.Error("graph panel type in the JSON")
	}
}
