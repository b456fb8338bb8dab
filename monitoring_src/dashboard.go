package monitor

import (
	"encoding/json"
	"net/netip"
)

// The dashboard is built from the structs below and marshalled to JSON; the
// model is the one Grafana 10+ saves (schemaVersion 39, "timeseries" panels,
// datasources referenced by {type, uid}).

const (
	dashboardTitle  = "Plug-and-play load balancer"
	schemaVersion   = 39
	panelWidth      = 12
	panelHeight     = 8
	rowHeight       = 1
	gridWidth       = 24
	noHostsMarkdown = "No slave hosts are known yet. Panels appear here once the master reports slaves."
)

// dashboardHost is one host's section: its IP and the uid of its
// Prometheus datasource.
type dashboardHost struct {
	IP            netip.Addr
	DatasourceUID string
	// ByLabel: the datasource is the central Prometheus, so the panels
	// select this host by its host label.
	ByLabel bool
}

// hostQueries are a host's panels' PromQL: the whole datasource's series
// (a host's own Prometheus), or those labelled host=IP (a central one; the
// master's /sd/targets labels slaves so, and central.yml's node job keeps
// it for node_exporter).
type hostQueries struct{ cpu, requested, completed, load string }

func queriesFor(selector string) hostQueries {
	sel := func(extra string) string {
		switch {
		case selector == "" && extra == "":
			return ""
		case selector == "":
			return "{" + extra + "}"
		case extra == "":
			return "{" + selector + "}"
		}
		return "{" + extra + "," + selector + "}"
	}
	return hostQueries{
		cpu:       `100 * (1 - avg(rate(node_cpu_seconds_total` + sel(`mode="idle"`) + `[1m])))`,
		requested: `rate(tasks_requested` + sel("") + `[1m])`,
		completed: `rate(tasks_completed` + sel("") + `[1m])`,
		load:      `current_load` + sel(""),
	}
}

type dashboardModel struct {
	ID            *int64      `json:"id"` // null: Grafana finds the dashboard by uid
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description"`
	Tags          []string    `json:"tags"`
	Timezone      string      `json:"timezone"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"` // 1: shared crosshair
	SchemaVersion int         `json:"schemaVersion"`
	Time          timeRange   `json:"time"`
	Refresh       string      `json:"refresh"`
	Panels        []panel     `json:"panels"`
	Templating    templating  `json:"templating"`
	Annotations   emptyList   `json:"annotations"`
	Links         []struct{}  `json:"links"`
	FiscalYear    int         `json:"fiscalYearStartMonth"`
	LiveNow       bool        `json:"liveNow"`
	WeekStart     string      `json:"weekStart"`
	TimePicker    *timePicker `json:"timepicker,omitempty"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type timePicker struct {
	RefreshIntervals []string `json:"refresh_intervals"`
}

type emptyList struct {
	List []struct{} `json:"list"`
}

type templating struct {
	List []variable `json:"list"`
}

// variable is a dashboard variable; the shipped dashboard has one, the
// Prometheus datasource to show.
type variable struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Type    string `json:"type"`
	Query   string `json:"query"`
	Regex   string `json:"regex"`
	Refresh int    `json:"refresh"`
	Hide    int    `json:"hide"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	GridPos     gridPos        `json:"gridPos"`
	Datasource  *datasourceRef `json:"datasource,omitempty"`
	Collapsed   *bool          `json:"collapsed,omitempty"`
	Panels      *[]panel       `json:"panels,omitempty"` // rows only: [] when expanded
	FieldConfig *fieldConfig   `json:"fieldConfig,omitempty"`
	Options     any            `json:"options,omitempty"`
	Targets     []target       `json:"targets,omitempty"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type fieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []struct{}    `json:"overrides"`
}

type fieldDefaults struct {
	Unit   string         `json:"unit"`
	Min    *float64       `json:"min,omitempty"`
	Max    *float64       `json:"max,omitempty"`
	Custom map[string]any `json:"custom"`
}

type target struct {
	RefID        string        `json:"refId"`
	Datasource   datasourceRef `json:"datasource"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat"`
	Range        bool          `json:"range"`
	EditorMode   string        `json:"editorMode"`
}

type textOptions struct {
	Mode    string `json:"mode"`
	Content string `json:"content"`
}

type timeseriesOptions struct {
	Legend  map[string]any `json:"legend"`
	Tooltip map[string]any `json:"tooltip"`
}

// dashboardJSON renders the dashboard for hosts (which must be sorted by IP).
func dashboardJSON(uid string, hosts []dashboardHost) ([]byte, error) {
	return json.Marshal(buildDashboard(uid, hosts))
}

func buildDashboard(uid string, hosts []dashboardHost) dashboardModel {
	d := dashboardModel{
		UID:           uid,
		Title:         dashboardTitle,
		Description:   "Written by the load balancer's monitor; edits here are overwritten.",
		Tags:          []string{"loadbalancer", "plug-and-play", "managed"},
		Timezone:      "browser",
		Editable:      true,
		GraphTooltip:  1,
		SchemaVersion: schemaVersion,
		Time:          timeRange{From: "now-15m", To: "now"},
		Refresh:       "5s",
		Templating:    templating{List: []variable{}},
		Annotations:   emptyList{List: []struct{}{}},
		Links:         []struct{}{},
		WeekStart:     "",
		TimePicker:    &timePicker{RefreshIntervals: []string{"5s", "10s", "30s", "1m", "5m"}},
	}
	if len(hosts) == 0 {
		d.Panels = []panel{{
			ID: 1, Type: "text", Title: "No slave hosts",
			GridPos: gridPos{H: panelHeight, W: gridWidth},
			Options: textOptions{Mode: "markdown", Content: noHostsMarkdown},
		}}
		return d
	}
	id := 0
	nextID := func() int { id++; return id }
	y := 0
	for _, h := range hosts {
		ds := datasourceRef{Type: datasourceType, UID: h.DatasourceUID}
		q := queriesFor("")
		if h.ByLabel {
			q = queriesFor(`host="` + h.IP.String() + `"`)
		}
		d.Panels = append(d.Panels, hostPanels(ds, h.IP.String(), q, y, nextID)...)
		y += rowHeight + panelHeight
	}
	return d
}

// hostPanels is one host's row at height y: its CPU, and its slaves'
// requests, completions and load, from the host's Prometheus ds.
func hostPanels(ds datasourceRef, host string, q hostQueries, y int, nextID func() int) []panel {
	expanded := false
	return []panel{
		{
			ID: nextID(), Type: "row", Title: host,
			GridPos:   gridPos{H: rowHeight, W: gridWidth, Y: y},
			Collapsed: &expanded, Panels: &[]panel{},
		},
		timeseries(nextID(), "CPU usage "+host, ds, gridPos{H: panelHeight, W: panelWidth, X: 0, Y: y + rowHeight},
			fieldDefaults{Unit: "percent", Min: ptr(0.0), Max: ptr(100.0)},
			target{RefID: "A", Expr: q.cpu, LegendFormat: "CPU busy"}),
		timeseries(nextID(), "Slaves on "+host, ds, gridPos{H: panelHeight, W: panelWidth, X: panelWidth, Y: y + rowHeight},
			fieldDefaults{Unit: "short", Min: ptr(0.0)},
			target{RefID: "A", Expr: q.requested, LegendFormat: "{{instance}} requested/s"},
			target{RefID: "B", Expr: q.completed, LegendFormat: "{{instance}} completed/s"},
			target{RefID: "C", Expr: q.load, LegendFormat: "{{instance}} load"}),
	}
}

// ShippedDashboard is the dashboard for users who provision Grafana
// themselves (deploy/grafana/dashboard.json): the monitor's panels for one
// slave host, whose Prometheus is picked with the "datasource" variable
// (the lb-* datasources, or any Prometheus). TestShippedDashboard keeps the
// file equal to it.
func ShippedDashboard() ([]byte, error) {
	d := buildDashboard(DefaultDashboardUID+"-host", nil)
	d.Title = dashboardTitle + " (one host)"
	d.Description = "One slave host's CPU and slaves; pick the host's Prometheus above."
	d.Tags = []string{"loadbalancer", "plug-and-play"}
	d.Templating.List = []variable{{
		Name: "datasource", Label: "Slave host's Prometheus", Type: "datasource", Query: datasourceType, Refresh: 1,
	}}
	ds := datasourceRef{Type: datasourceType, UID: "${datasource}"}
	id := 0
	d.Panels = hostPanels(ds, "$datasource", queriesFor(""), 0, func() int { id++; return id })
	b, err := json.MarshalIndent(d, "", "  ")
	return append(b, '\n'), err
}

func timeseries(id int, title string, ds datasourceRef, pos gridPos, defaults fieldDefaults, targets ...target) panel {
	for i := range targets {
		targets[i].Datasource = ds
		targets[i].Range = true
		targets[i].EditorMode = "code"
	}
	defaults.Custom = map[string]any{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
	return panel{
		ID: id, Type: "timeseries", Title: title, GridPos: pos, Datasource: &ds,
		FieldConfig: &fieldConfig{Defaults: defaults, Overrides: []struct{}{}},
		Options: timeseriesOptions{
			Legend:  map[string]any{"showLegend": true, "displayMode": "list", "placement": "bottom", "calcs": []string{}},
			Tooltip: map[string]any{"mode": "multi", "sort": "none"},
		},
		Targets: targets,
	}
}

func ptr[T any](v T) *T { return &v }
