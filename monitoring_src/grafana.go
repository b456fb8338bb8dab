package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	sdk "github.com/grafana-tools/sdk"

	"github.com/lbproject/loadbalancer/common/logger"
)

// Written against the HTTP API of Grafana 9, 10 and 11: every call below
// exists unchanged in those versions. Deprecated forms are avoided: no
// numeric-id datasource routes, no dashboard slug routes (gone since 8).

// Defaults for GrafanaOptions.
const (
	DefaultGrafanaURL     = "http://localhost:3000"
	DefaultPrometheusPort = 9090
	DefaultDashboardUID   = "plugnplay-lb"
	DefaultGrafanaTimeout = 10 * time.Second
)

const (
	// datasourcePrefix marks the datasources this monitor owns: "lb-<ip>".
	datasourcePrefix = "lb-"
	datasourceType   = "prometheus"
	// maxUIDLen is Grafana's limit for datasource and dashboard uids.
	maxUIDLen = 40
	// maxErrorBody caps how much of an error answer is kept for messages.
	maxErrorBody = 4 << 10
	// maxDashboardBody caps the dashboard read back.
	maxDashboardBody = 8 << 20
)

// Errors a Sync can wrap; test with errors.Is.
var (
	// ErrUnauthorized: Grafana answered 401 to the key.
	ErrUnauthorized = errors.New("grafana rejected the key: check the service-account token")
	// ErrForbidden: Grafana answered 403; the key's role may not do this.
	ErrForbidden = errors.New("grafana refused the request: the key lacks permission (needs the Admin role or datasources and dashboards write)")
	// ErrUnreachable: no HTTP answer at all (connection refused, timeout, DNS).
	ErrUnreachable = errors.New("grafana unreachable")
)

// StatusError is a non-2xx answer from Grafana.
type StatusError struct {
	Code    int
	Message string // Grafana's "message", or the start of the body
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if err := e.Unwrap(); err != nil {
		s = err.Error() + " (" + s + ")"
	}
	return s
}

// Unwrap maps 401 and 403 to ErrUnauthorized and ErrForbidden.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	}
	return nil
}

// SlaveHost is one host running slaves, as the master reports it.
type SlaveHost struct {
	IP     netip.Addr
	Slaves []SlaveRef // sorted by ID
}

// SlaveRef is one slave on a host.
type SlaveRef struct {
	ID          uint16
	MetricsPort uint16
}

// GrafanaOptions configures a Grafana; zero values take the defaults.
type GrafanaOptions struct {
	URL            string // e.g. http://localhost:3000
	Key            string // "user:password" (basic auth) or a service-account token (Bearer)
	PrometheusPort int    // the Prometheus port on every slave host, default 9090
	// PrometheusURL, when set, is one central Prometheus for every host
	// (fed by the master's /sd/targets): one datasource "lb-central", and
	// each host's panels select it by its host label.
	PrometheusURL string
	DashboardUID  string         // stable uid of the one dashboard, default "plugnplay-lb"
	Timeout       time.Duration  // per HTTP call, default 10s
	Log           *logger.Logger // default: discard
}

// Grafana keeps Grafana in step with the slave hosts. Its methods may be
// called from several goroutines; Sync calls run one at a time.
type Grafana struct {
	opts      GrafanaOptions
	base      *url.URL // API root, without credentials
	safeURL   string   // base as printed in logs and errors
	client    *sdk.Client
	transport *http.Transport
	hc        *http.Client
	secrets   []string // strings never to print
	log       *logger.Logger

	mu sync.Mutex
	// managed mirrors Grafana's lb-* datasources, as listed at the start of
	// the last Sync and kept up to date by its own calls.
	managed map[netip.Addr]datasource
	// vanished marks the hosts whose datasource was listed once and then
	// gone: creating it again is a repair.
	vanished map[netip.Addr]bool
	// dashboardSeen: the dashboard was written or found once, so its
	// absence later is a repair; dashboardHosts is what it was written for,
	// so that a rewrite for new hosts is not counted as one.
	dashboardSeen  bool
	dashboardHosts []dashboardHost
	// health is what Grafana said of each managed datasource at the last
	// Sync: whether its Prometheus answers.
	health map[netip.Addr]DatasourceHealth
	// repairs counts what Syncs found missing or different in Grafana and
	// put right, lastRepair says what the last one was.
	repairs      int
	lastRepair   string
	lastRepairAt time.Time
}

// DatasourceHealth is Grafana's answer to GET
// /api/datasources/uid/:uid/health for one datasource.
type DatasourceHealth struct {
	OK        bool
	Message   string
	CheckedAt time.Time
}

// datasource is one lb-* datasource, as wanted or as found in Grafana.
type datasource struct {
	name, uid, url, typ string
	readOnly            bool // provisioned: Grafana refuses to change it
}

func (d datasource) matches(w datasource) bool { return d.url == w.url && d.typ == w.typ }

// NewGrafana checks o and fills in defaults; it does no network I/O.
func NewGrafana(o GrafanaOptions) (*Grafana, error) {
	base, err := url.Parse(strings.TrimSpace(o.URL))
	switch {
	case err != nil:
		return nil, fmt.Errorf("grafana URL %q: %w", o.URL, err)
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, fmt.Errorf("grafana URL %q: want http:// or https://", o.URL)
	case base.Host == "":
		return nil, fmt.Errorf("grafana URL %q: no host", o.URL)
	case base.User != nil:
		return nil, errors.New("grafana URL: put credentials in the key, not in the URL")
	case base.RawQuery != "" || base.Fragment != "":
		return nil, fmt.Errorf("grafana URL %q: no query or fragment allowed", o.URL)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	if o.Key == "" {
		return nil, errors.New("grafana key is empty: give a service-account token or user:password")
	}
	if strings.ContainsFunc(o.Key, unicode.IsControl) {
		return nil, errors.New("grafana key contains control characters (a trailing newline?)")
	}
	if o.PrometheusPort == 0 {
		o.PrometheusPort = DefaultPrometheusPort
	}
	if o.PrometheusPort < 1 || o.PrometheusPort > 65535 {
		return nil, fmt.Errorf("prometheus port %d: want 1-65535", o.PrometheusPort)
	}
	if o.PrometheusURL != "" {
		if u, err := url.Parse(o.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("prometheus URL %q: want http://HOST:PORT", o.PrometheusURL)
		}
	}
	if o.DashboardUID == "" {
		o.DashboardUID = DefaultDashboardUID
	}
	if !validUID(o.DashboardUID) {
		return nil, fmt.Errorf("dashboard uid %q: want at most %d of a-z A-Z 0-9 - _", o.DashboardUID, maxUIDLen)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultGrafanaTimeout
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must be positive", o.Timeout)
	}
	if o.Log == nil {
		o.Log = logger.Discard()
	}
	o.URL = base.String()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: statusRecorder{next: transport}}
	// NewClient sends "Bearer <key>" for a key without ':' and basic auth
	// (user:password put in the URL, turned into a header by net/http)
	// for one with ':'.
	client, err := sdk.NewClient(o.URL, o.Key, hc)
	if err != nil {
		return nil, fmt.Errorf("grafana client: %w", err)
	}
	g := &Grafana{
		opts: o, base: base, safeURL: base.String(), client: client,
		transport: transport, hc: hc, log: o.Log,
		managed: map[netip.Addr]datasource{}, vanished: map[netip.Addr]bool{},
		health: map[netip.Addr]DatasourceHealth{},
	}
	g.secrets = append(g.secrets, o.Key, base64.StdEncoding.EncodeToString([]byte(o.Key)))
	if _, pass, ok := strings.Cut(o.Key, ":"); ok && len(pass) >= 4 {
		g.secrets = append(g.secrets, pass, url.QueryEscape(pass))
	}
	return g, nil
}

// Close releases idle connections.
func (g *Grafana) Close() { g.transport.CloseIdleConnections() }

// ManagedDatasources returns the names of the lb-* datasources Grafana
// holds as far as the monitor knows (created, adopted or listed), sorted by
// host. It waits for a Sync in progress.
func (g *Grafana) ManagedDatasources() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	names := make([]string, 0, len(g.managed))
	for _, ip := range sortedKeys(g.managed) {
		names = append(names, g.managed[ip].name)
	}
	return names
}

// Sync reconciles Grafana with hosts: it reads back what Grafana has (the
// lb-* datasources, the dashboard) and repairs every difference from what it
// should have: one Prometheus datasource "lb-<ip>" per host (created, or
// adopted when it exists already), none for hosts gone, and the dashboard
// written when it is missing or differs (deleted by hand, edited, or a
// Grafana that came back empty). Then it asks Grafana for the health of
// each datasource (Health). Every call reads everything again, so whatever
// changed in Grafana is repaired by the next Sync.
//
// The returned error names every failed step; after a 401, an unreachable
// Grafana or a 502/503/504 the remaining steps are skipped.
func (g *Grafana) Sync(ctx context.Context, hosts []SlaveHost) error {
	g.mu.Lock()
	defer g.mu.Unlock()

	want, order := g.desired(hosts)
	wantOrder := sortedKeys(want)
	var errs stepErrors
	fatal := false
	fail := func(step string, err error) {
		g.logFailure(step, err)
		errs = append(errs, fmt.Errorf("%s: %w", step, err))
		fatal = fatal || isFatal(err)
	}

	if err := g.list(ctx, want); err != nil {
		fail("list datasources", err)
		// Nothing can be done safely without knowing what exists.
		return append(errs, errors.New("remaining steps skipped")).wrap()
	}

	// Deletes first, so a datasource with wrong settings is replaced in
	// one pass.
	for _, ip := range sortedKeys(g.managed) {
		if fatal {
			break
		}
		have := g.managed[ip]
		w, wanted := want[ip]
		if have.readOnly || (wanted && have.matches(w)) {
			continue
		}
		reason := "host gone"
		if wanted {
			reason = fmt.Sprintf("settings differ (url %s, want %s)", have.url, w.url)
		}
		if err := g.deleteDatasource(ctx, ip, have, reason); err != nil {
			fail("delete datasource "+have.name, err)
		}
	}
	for _, ip := range wantOrder {
		if fatal {
			break
		}
		if _, ok := g.managed[ip]; ok {
			continue
		}
		if err := g.createDatasource(ctx, ip, want[ip]); err != nil {
			fail("create datasource "+want[ip].name, err)
		}
	}
	if !fatal {
		if err := g.syncDashboard(ctx, order); err != nil {
			fail("write dashboard "+g.opts.DashboardUID, err)
		}
	}
	if !fatal {
		if err := g.checkHealth(ctx); err != nil {
			fail("datasource health", err)
		}
	}
	if fatal {
		errs = append(errs, errors.New("remaining steps skipped"))
	}
	return errs.wrap()
}

// Health returns Grafana's last answer on each managed datasource's health,
// by host. It waits for a Sync in progress.
func (g *Grafana) Health() map[netip.Addr]DatasourceHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.health)
}

// Repairs returns how many differences Syncs have found in Grafana and
// repaired (a datasource or the dashboard missing or different), the last
// one and when. It waits for a Sync in progress.
func (g *Grafana) Repairs() (count int, last string, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.repairs, g.lastRepair, g.lastRepairAt
}

// repaired records that what should be in Grafana was not, and now is.
func (g *Grafana) repaired(what string) {
	g.repairs++
	g.lastRepair, g.lastRepairAt = what, time.Now()
	g.log.Info("Grafana repaired", "what", what)
}

// desired returns the wanted datasources (by host, or the central one
// under centralKey), and the hosts sorted.
func (g *Grafana) desired(hosts []SlaveHost) (map[netip.Addr]datasource, []netip.Addr) {
	want := make(map[netip.Addr]datasource, len(hosts))
	if g.opts.PrometheusURL != "" {
		var order []netip.Addr
		for _, h := range hosts {
			if h.IP.IsValid() {
				order = append(order, h.IP.Unmap().WithZone(""))
			}
		}
		slices.SortFunc(order, netip.Addr.Compare)
		want[centralKey] = datasource{name: centralName, uid: centralName, url: g.opts.PrometheusURL, typ: datasourceType}
		return want, slices.Compact(order)
	}
	for _, h := range hosts {
		if !h.IP.IsValid() {
			g.log.Warning("ignoring a slave host without a valid IP")
			continue
		}
		// A zone means nothing to Grafana; a 4-in-6 address is the IPv4 host.
		ip := h.IP.Unmap().WithZone("")
		want[ip] = datasource{
			name: datasourceName(ip),
			uid:  datasourceUID(ip),
			url:  "http://" + netip.AddrPortFrom(ip, uint16(g.opts.PrometheusPort)).String(),
			typ:  datasourceType,
		}
	}
	return want, sortedKeys(want)
}

// list learns which lb-* datasources exist (adopting them).
func (g *Grafana) list(ctx context.Context, want map[netip.Addr]datasource) error {
	var all []sdk.Datasource
	err := g.do(ctx, func(ctx context.Context) (err error) {
		// GetAllDatasources checks the status itself; do() adds the details.
		all, err = g.client.GetAllDatasources(ctx)
		return err
	})
	if err != nil {
		return err
	}
	managed := map[netip.Addr]datasource{}
	for _, ds := range all {
		ip, ok := managedIP(ds.Name)
		if !ok {
			continue // not ours: never touched
		}
		managed[ip] = fromSDK(ds)
		if _, known := g.managed[ip]; !known {
			_, wanted := want[ip]
			g.log.Info("datasource adopted", "name", ds.Name, "uid", ds.UID, "url", ds.URL, "wanted", wanted)
		}
	}
	for ip, d := range g.managed {
		if _, ok := managed[ip]; !ok {
			g.log.Info("datasource vanished from Grafana", "name", d.name)
			g.vanished[ip] = true
		}
	}
	g.managed = managed
	for ip := range g.health {
		if _, ok := managed[ip]; !ok {
			delete(g.health, ip)
		}
	}
	return nil
}

func (g *Grafana) createDatasource(ctx context.Context, ip netip.Addr, w datasource) error {
	ds := sdk.Datasource{
		UID: w.uid, Name: w.name, Type: w.typ, Access: "proxy", URL: w.url,
		JSONData: map[string]any{"httpMethod": "POST"},
	}
	create := func(ctx context.Context) error {
		// CreateDatasource returns err == nil whatever the status (409,
		// 401, 403...): do() reads the real status and turns it into an error.
		_, err := g.client.CreateDatasource(ctx, ds)
		return err
	}
	err := g.do(ctx, create)
	if err == nil {
		g.managed[ip] = w
		g.log.Info("datasource added", "name", w.name, "uid", w.uid, "url", w.url)
		if g.vanished[ip] {
			delete(g.vanished, ip)
			g.repaired("datasource " + w.name + " was missing")
		}
		return nil
	}
	if !isStatus(err, http.StatusConflict) {
		return err
	}
	// 409: the name or the uid is taken. Same name: adopt it (a monitor
	// restart, or someone made it by hand).
	got, gerr := g.datasourceByName(ctx, w.name)
	if gerr == nil {
		d := fromSDK(got)
		g.managed[ip] = d
		g.log.Info("datasource adopted", "name", d.name, "uid", d.uid, "url", d.url, "settings_ok", d.matches(w))
		return nil
	}
	if !isStatus(gerr, http.StatusNotFound) {
		return fmt.Errorf("name or uid taken (409), then looking it up: %w", gerr)
	}
	// Not by name, so our uid is taken by a datasource with another name:
	// let Grafana choose the uid; the dashboard follows whatever it is.
	ds.UID = ""
	if err := g.do(ctx, create); err != nil {
		return fmt.Errorf("uid %s taken by another datasource; creating with a new uid: %w", w.uid, err)
	}
	got, gerr = g.datasourceByName(ctx, w.name)
	if gerr != nil {
		return fmt.Errorf("created with a new uid, then looking it up: %w", gerr)
	}
	d := fromSDK(got)
	g.managed[ip] = d
	g.log.Info("datasource added", "name", d.name, "uid", d.uid, "url", d.url, "note", "uid "+w.uid+" was taken")
	return nil
}

func (g *Grafana) datasourceByName(ctx context.Context, name string) (sdk.Datasource, error) {
	var ds sdk.Datasource
	err := g.do(ctx, func(ctx context.Context) (err error) {
		ds, err = g.client.GetDatasourceByName(ctx, name) // checks the status itself
		return err
	})
	return ds, err
}

func (g *Grafana) deleteDatasource(ctx context.Context, ip netip.Addr, d datasource, reason string) error {
	err := g.do(ctx, func(ctx context.Context) error {
		// DELETE /api/datasources/name/:name; like create, the sdk ignores
		// the status, do() checks it. (DeleteDatasource uses the numeric
		// id route, deprecated since Grafana 9.)
		_, err := g.client.DeleteDatasourceByName(ctx, d.name)
		return err
	})
	switch {
	case err == nil:
		g.log.Info("datasource deleted", "name", d.name, "uid", d.uid, "reason", reason)
	case isStatus(err, http.StatusNotFound):
		g.log.Info("datasource already gone", "name", d.name, "reason", reason)
	default:
		return err
	}
	delete(g.managed, ip)
	return nil
}

// syncDashboard writes the dashboard when it differs from the last write.
func (g *Grafana) syncDashboard(ctx context.Context, order []netip.Addr) error {
	hosts := make([]dashboardHost, 0, len(order))
	for _, ip := range order {
		key, uid := ip, datasourceUID(ip)
		if g.opts.PrometheusURL != "" {
			key, uid = centralKey, centralName
		}
		if d, ok := g.managed[key]; ok {
			uid = d.uid // an adopted datasource keeps its own uid
		}
		hosts = append(hosts, dashboardHost{IP: ip, DatasourceUID: uid, ByLabel: g.opts.PrometheusURL != ""})
	}
	model, err := dashboardJSON(g.opts.DashboardUID, hosts)
	if err != nil {
		return err
	}
	have, found, err := g.readDashboard(ctx)
	if err != nil {
		return fmt.Errorf("reading it back: %w", err)
	}
	want, err := canonicalJSON(json.RawMessage(model))
	if err != nil {
		return err
	}
	if found && bytes.Equal(have, want) {
		return nil
	}
	sm, err := g.writeDashboard(ctx, model)
	if err != nil {
		return err
	}
	switch {
	case !found && g.dashboardSeen:
		g.repaired("dashboard " + g.opts.DashboardUID + " was missing")
	case found && g.dashboardSeen && !g.hostsChanged(hosts):
		g.repaired("dashboard " + g.opts.DashboardUID + " differed")
	}
	g.dashboardSeen, g.dashboardHosts = true, hosts
	version := 0
	if sm.Version != nil {
		version = *sm.Version
	}
	g.log.Info("dashboard written", "uid", g.opts.DashboardUID, "version", version, "hosts", len(hosts))
	if sm.UID != nil && *sm.UID != g.opts.DashboardUID {
		g.log.Warning("Grafana stored the dashboard under another uid", "want", g.opts.DashboardUID, "got", *sm.UID)
	}
	return nil
}

// hostsChanged reports whether hosts differ from those the dashboard was
// last written for.
func (g *Grafana) hostsChanged(hosts []dashboardHost) bool {
	return !slices.Equal(hosts, g.dashboardHosts)
}

// readDashboard reads the dashboard back from Grafana and returns it
// rendered the way dashboardJSON renders a model (so equal bytes mean equal
// content), or found false on a 404. Fields Grafana adds (id, version) and
// fields our model does not have are left out of the comparison.
func (g *Grafana) readDashboard(ctx context.Context) (model []byte, found bool, err error) {
	var got struct {
		Dashboard dashboardModel `json:"dashboard"`
	}
	err = g.getJSON(ctx, "api/dashboards/uid/"+url.PathEscape(g.opts.DashboardUID), maxDashboardBody, &got)
	if isStatus(err, http.StatusNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	got.Dashboard.ID = nil
	// Through the generic form and back: map keys sorted and any-typed
	// fields in one shape, as for the model we render.
	model, err = canonicalJSON(got.Dashboard)
	return model, true, err
}

// getJSON GETs path under the API root and decodes a 2xx answer (at most
// limit bytes) into v; any other status is do()'s error, with Grafana's
// message.
func (g *Grafana) getJSON(ctx context.Context, path string, limit int64, v any) error {
	return g.do(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.endpoint(path), nil)
		if err != nil {
			return err
		}
		g.authorize(req)
		req.Header.Set("Accept", "application/json")
		resp, err := g.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			// Read, so that the recorder keeps Grafana's message; do()
			// reports the status.
			_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			return err
		}
		return json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(v)
	})
}

// canonicalJSON marshals v, then re-marshals it through a generic value so
// that fields typed any (panel options) compare equal whichever Go type
// they were decoded into.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

// checkHealth asks Grafana about each managed datasource: 200 means its
// Prometheus answered a query, 400 that it did not (with Grafana's reason).
func (g *Grafana) checkHealth(ctx context.Context) error {
	var errs []error
	for _, ip := range sortedKeys(g.managed) {
		d := g.managed[ip]
		var answer struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}
		err := g.getJSON(ctx, "api/datasources/uid/"+url.PathEscape(d.uid)+"/health", maxErrorBody, &answer)
		h := DatasourceHealth{OK: err == nil && answer.Status == "OK", Message: answer.Message, CheckedAt: time.Now()}
		switch {
		case isStatus(err, http.StatusBadRequest):
			var se *StatusError
			errors.As(err, &se)
			h.Message = se.Message // Grafana's reason: its Prometheus does not answer
		case err != nil:
			h.Message = "health check failed: " + err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
		}
		if prev, ok := g.health[ip]; !ok || prev.OK != h.OK {
			if h.OK {
				g.log.Info("datasource healthy", "name", d.name)
			} else {
				g.log.Warning("datasource unhealthy", "name", d.name, "reason", h.Message)
			}
		}
		g.health[ip] = h
		if isFatal(err) {
			break
		}
	}
	return errors.Join(errs...)
}

// saveDashboardRequest is the body of POST /api/dashboards/db.
type saveDashboardRequest struct {
	Dashboard json.RawMessage `json:"dashboard"`
	Overwrite bool            `json:"overwrite"`
	Message   string          `json:"message"`
}

// writeDashboard posts the dashboard with overwrite: true (no folder: the
// General folder).
//
// Not through the sdk: SetDashboard takes sdk.Board, which cannot express
// the timeseries panels (fieldConfig, datasource refs by uid) and would drop
// them; SetRawDashboard / SetRawDashboardWithParam dereference
// StatusMessage.Message on any non-200 answer and panic when the body has
// no "message" (a proxy's 502, say), and they send "Overwrite"/"FolderID"
// capitalised. So this is one plain POST through the same HTTP client, with
// the same authentication as the sdk client.
func (g *Grafana) writeDashboard(ctx context.Context, model []byte) (sdk.StatusMessage, error) {
	body, err := json.Marshal(saveDashboardRequest{
		Dashboard: model, Overwrite: true, Message: "written by the load balancer's monitor",
	})
	if err != nil {
		return sdk.StatusMessage{}, err
	}
	var sm sdk.StatusMessage
	err = g.do(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.endpoint("api/dashboards/db"), bytes.NewReader(body))
		if err != nil {
			return err
		}
		g.authorize(req)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := g.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode/100 != 2 {
			return err // do() reports a non-2xx status from the recorder
		}
		return json.Unmarshal(raw, &sm)
	})
	return sm, err
}

func (g *Grafana) endpoint(p string) string {
	u := *g.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + p
	return u.String()
}

// authorize sets the same Authorization header the sdk client sends.
func (g *Grafana) authorize(req *http.Request) {
	if user, pass, ok := strings.Cut(g.opts.Key, ":"); ok {
		req.SetBasicAuth(user, pass)
		return
	}
	req.Header.Set("Authorization", "Bearer "+g.opts.Key)
}

// --- HTTP plumbing ---

// call receives, through the request context, what the transport saw: the
// sdk hides the status of some answers, and the body of all error answers.
type call struct {
	status int
	body   []byte // start of an error answer's body
}

type callKey struct{}

// statusRecorder is the RoundTripper under both the sdk client and our own
// calls. RoundTrip runs in the caller's goroutine, so no locking is needed.
type statusRecorder struct{ next http.RoundTripper }

func (s statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if c, ok := req.Context().Value(callKey{}).(*call); ok && resp != nil {
		c.status, c.body = resp.StatusCode, nil
		if resp.StatusCode >= 300 {
			resp.Body = &capturingBody{ReadCloser: resp.Body, c: c}
		}
	}
	return resp, err
}

type capturingBody struct {
	io.ReadCloser
	c *call
}

func (b *capturingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxErrorBody - len(b.c.body); room > 0 {
		b.c.body = append(b.c.body, p[:min(n, room)]...)
	}
	return n, err
}

// message is Grafana's "message" from an error body, else its start.
func (c *call) message() string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(c.body, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(c.body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// do runs one HTTP exchange under the per-call timeout and returns nil only
// for a 2xx answer that f could read.
func (g *Grafana) do(ctx context.Context, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call{}
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, callKey{}, c), g.opts.Timeout)
	defer cancel()
	err := f(cctx)
	switch {
	case c.status == 0 && err == nil:
		return errors.New("no request was made") // cannot happen with the calls above
	case c.status == 0:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // drop the method and URL: the URL is in our message
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w at %s: no answer within %s", ErrUnreachable, g.safeURL, g.opts.Timeout)
		}
		return fmt.Errorf("%w at %s: %s", ErrUnreachable, g.safeURL, g.redact(err.Error()))
	case c.status < 200 || c.status > 299:
		return &StatusError{Code: c.status, Message: g.redact(c.message())}
	case err != nil:
		return fmt.Errorf("unreadable answer (HTTP %d): %s", c.status, g.redact(err.Error()))
	}
	return nil
}

// redact removes the key (and its parts) from text bound for logs or errors.
func (g *Grafana) redact(s string) string {
	for _, secret := range g.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func (g *Grafana) logFailure(step string, err error) {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded): // the caller's ctx
		g.log.Debug("Grafana sync interrupted", "step", step, "err", err)
	case errors.Is(err, ErrUnauthorized):
		g.log.Error("Grafana rejected the key: check the service-account token", "step", step, "url", g.safeURL)
	case errors.Is(err, ErrForbidden):
		g.log.Error("Grafana refused the request: the key lacks permission", "step", step, "url", g.safeURL, "err", err)
	case errors.Is(err, ErrUnreachable):
		g.log.Error("Grafana unreachable at "+g.safeURL, "step", step, "err", err)
	default:
		g.log.Error("Grafana step failed", "step", step, "err", err)
	}
}

// isFatal: every further call would fail the same way, so stop this Sync.
func isFatal(err error) bool {
	return isOutage(err) || errors.Is(err, ErrUnauthorized) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isOutage: Grafana as a whole is not serving (no answer, or a gateway or
// unavailable status), so it may come back with other state.
func isOutage(err error) bool {
	return errors.Is(err, ErrUnreachable) || isStatus(err, http.StatusBadGateway) ||
		isStatus(err, http.StatusServiceUnavailable) || isStatus(err, http.StatusGatewayTimeout)
}

func isStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// stepErrors joins the failed steps of one Sync on one line.
type stepErrors []error

func (e stepErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e stepErrors) Unwrap() []error { return e }

func (e stepErrors) wrap() error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("grafana sync: %w", e)
}

// --- names ---

func datasourceName(ip netip.Addr) string { return datasourcePrefix + ip.String() }

// datasourceUID is stable per IP: "lb-10-0-0-2"; an IPv6 address too long
// for Grafana's 40 characters gets a hash instead.
func datasourceUID(ip netip.Addr) string {
	uid := datasourcePrefix + strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
	if len(uid) <= maxUIDLen {
		return uid
	}
	sum := sha256.Sum256(ip.AsSlice())
	return datasourcePrefix + hex.EncodeToString(sum[:16])
}

// The central Prometheus' datasource (-prometheus-url), kept in the maps
// under the zero address.
const centralName = "lb-central"

var centralKey = netip.Addr{}

// HostDatasource is the datasource name and map key that serve host ip.
func (g *Grafana) HostDatasource(ip netip.Addr) (name string, key netip.Addr) {
	if g.opts.PrometheusURL != "" {
		return centralName, centralKey
	}
	return datasourceName(ip), ip
}

// managedIP reports whether name is one of ours ("lb-" and an IP in the
// form datasourceName writes, or lb-central) and which host it is for.
func managedIP(name string) (netip.Addr, bool) {
	if name == centralName {
		return centralKey, true
	}
	rest, ok := strings.CutPrefix(name, datasourcePrefix)
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(rest)
	if err != nil || ip.String() != rest || ip.Zone() != "" || ip.Is4In6() {
		return netip.Addr{}, false
	}
	return ip, true
}

var uidPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

func validUID(s string) bool { return len(s) <= maxUIDLen && uidPattern.MatchString(s) }

func fromSDK(ds sdk.Datasource) datasource {
	return datasource{
		name: ds.Name, uid: ds.UID, url: ds.URL, typ: ds.Type,
		readOnly: ds.ReadOnly != nil && *ds.ReadOnly,
	}
}

func sortedKeys[V any](m map[netip.Addr]V) []netip.Addr {
	keys := make([]netip.Addr, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, netip.Addr.Compare)
	return keys
}
