package monitor

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/webui"
)

// What the monitor knows, for its status page: the master it follows (or
// that it is looking for one), the last slave list, and how the Grafana
// syncs went. Run's loop records it; GET /api/status reads it. Field names
// are snake_case and stable (new fields may be added, none renamed or
// removed); times are RFC 3339 in UTC with milliseconds, null when they
// have not happened; durations are float milliseconds in fields ending in
// _ms. Nothing here holds the Grafana key, and error texts pass through
// Grafana's redaction once more before they are kept.

// Master states, as /api/status names them.
const (
	masterLooking   = "looking"   // broadcasting (or asking by unicast) for a master
	masterConnected = "connected" // the link is open; the slave list is asked every interval
)

// Grafana sync states, as /api/status names them.
const (
	syncPending = "pending" // no sync yet (no master yet, or the first is running)
	syncOK      = "ok"      // the last sync ended without error
	syncFailing = "failing" // the last sync failed; the next one retries
)

// monitorStatus is the answer of GET /api/status.
type monitorStatus struct {
	Time          time.Time    `json:"time"`
	StartedAt     time.Time    `json:"started_at"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	IntervalMS    float64      `json:"interval_ms"`
	Master        masterStatus `json:"master"`
	// Slaves counts the slaves of the last list; SlavesAt is when it came.
	// The list is kept when the master is lost, until the next one arrives.
	Slaves      int           `json:"slaves"`
	SlavesAt    *time.Time    `json:"slaves_at"`
	SlavesAgeMS *float64      `json:"slaves_age_ms"`
	Hosts       []hostStatus  `json:"hosts"`
	Grafana     grafanaStatus `json:"grafana"`
}

// masterStatus is the master part of GET /api/status.
type masterStatus struct {
	State      string `json:"state"`       // masterLooking or masterConnected
	Address    string `json:"address"`     // the master's discovery address; "" while looking
	LookingFor string `json:"looking_for"` // where join requests go: a broadcast or the -master address
	// Since is when the current state began: connected since, or looking since.
	Since       time.Time  `json:"since"`
	SinceMS     float64    `json:"since_ms"`
	Connections uint64     `json:"connections"` // links to a master opened since start
	LostAt      *time.Time `json:"lost_at"`     // when the last master was lost
	LostCause   string     `json:"lost_cause"`
}

// hostStatus is one slave host of the last slave list.
type hostStatus struct {
	IP         string `json:"ip"`
	Datasource string `json:"datasource"` // the name of its Grafana datasource
	InGrafana  bool   `json:"in_grafana"` // that datasource is among those managed
	// Health is Grafana's verdict on the datasource (its Prometheus
	// answers a query): "ok", "failing", or "unknown" before any check.
	Health          string        `json:"health"`
	HealthMessage   string        `json:"health_message"`
	HealthCheckedAt *time.Time    `json:"health_checked_at"`
	Slaves          []slaveStatus `json:"slaves"`
}

// Datasource health, as /api/status names it.
const (
	healthUnknown = "unknown"
	healthOK      = "ok"
	healthFailing = "failing"
)

// slaveStatus is one slave of a host.
type slaveStatus struct {
	Slave       string `json:"slave"` // "IP:ID", as the master's page names it
	ID          uint16 `json:"id"`
	MetricsPort uint16 `json:"metrics_port"`
}

// grafanaStatus is the Grafana part of GET /api/status. Every sync reads
// Grafana back, so a success means Grafana had, or now has, everything.
type grafanaStatus struct {
	URL              string     `json:"url"` // without credentials (NewGrafana refuses them)
	DashboardUID     string     `json:"dashboard_uid"`
	State            string     `json:"state"` // syncPending, syncOK or syncFailing
	Syncs            uint64     `json:"syncs"`
	FailedSyncs      uint64     `json:"failed_syncs"`
	LastSyncAt       *time.Time `json:"last_sync_at"`
	LastSuccessAt    *time.Time `json:"last_success_at"`
	LastSuccessAgeMS *float64   `json:"last_success_age_ms"`
	LastErrorAt      *time.Time `json:"last_error_at"`
	LastError        string     `json:"last_error"` // kept after a later success, with its time
	Datasources      []string   `json:"datasources"`
	// Repairs counts the differences syncs found in Grafana and put right
	// (a datasource or the dashboard deleted, edited, or lost with
	// Grafana's state); LastRepair says what the last one was.
	Repairs      int        `json:"repairs"`
	LastRepair   string     `json:"last_repair"`
	LastRepairAt *time.Time `json:"last_repair_at"`
}

// state records what the monitor knows. Its methods may be called from
// several goroutines.
type state struct {
	// Set once, in newState.
	started      time.Time
	interval     time.Duration
	lookingFor   netip.AddrPort
	grafanaURL   string
	dashboardUID string
	redact       func(string) string
	datasourceOf func(netip.Addr) (string, netip.Addr)

	mu          sync.Mutex
	master      netip.AddrPort // invalid while looking
	since       time.Time
	connections uint64
	lostAt      time.Time
	lostCause   string
	hosts       []SlaveHost
	hostsAt     time.Time
	syncs       uint64
	failed      uint64
	lastSyncAt  time.Time
	lastOK      time.Time
	lastErrAt   time.Time
	lastErr     string
	lastSyncErr bool
	datasources []string
	health      map[netip.Addr]DatasourceHealth
	repairs     int
	lastRepair  string
	repairAt    time.Time
}

func newState(now time.Time, interval time.Duration, lookingFor netip.AddrPort, g *Grafana) *state {
	return &state{
		started: now, since: now, interval: interval, lookingFor: lookingFor,
		// Both are fixed once NewGrafana returns.
		grafanaURL: g.safeURL, dashboardUID: g.opts.DashboardUID, redact: g.redact, datasourceOf: g.HostDatasource,
	}
}

// connected records that the link to the master at addr is open.
func (s *state) connected(addr netip.AddrPort, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master, s.since = addr, now
	s.connections++
}

// lost records that the master's link ended with cause; the monitor looks
// for a master again. The last slave list stays, with its time.
func (s *state) lost(cause error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master, s.since, s.lostAt = netip.AddrPort{}, now, now
	s.lostCause = ""
	if cause != nil {
		s.lostCause = s.redact(cause.Error())
	}
}

// sawSlaves records the master's latest slave list.
func (s *state) sawSlaves(hosts []SlaveHost, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts, s.hostsAt = hosts, now
}

// synced records the outcome of a Sync, the datasources it left, their
// health and the repairs so far.
func (s *state) synced(err error, g *Grafana, now time.Time) {
	datasources, health := g.ManagedDatasources(), g.Health()
	repairs, last, at := g.Repairs()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	s.lastSyncAt, s.datasources, s.health = now, datasources, health
	s.repairs, s.lastRepair, s.repairAt = repairs, last, at
	s.lastSyncErr = err != nil
	if err != nil {
		s.failed++
		s.lastErrAt, s.lastErr = now, s.redact(err.Error())
		return
	}
	s.lastOK = now
}

// recordSync records a Sync's outcome, unless ctx ended: a Sync cut short
// by the monitor's own shutdown is no Grafana failure.
func (mon *Monitor) recordSync(ctx context.Context, err error) {
	if ctx.Err() == nil {
		mon.state.synced(err, mon.grafana, time.Now())
	}
}

// status is the state as GET /api/status shows it.
func (s *state) status(now time.Time) monitorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := monitorStatus{
		Time:          webui.Time(now),
		StartedAt:     webui.Time(s.started),
		UptimeSeconds: now.Sub(s.started).Round(time.Millisecond).Seconds(),
		IntervalMS:    webui.Millis(s.interval),
		Master: masterStatus{
			State: masterLooking, LookingFor: s.lookingFor.String(),
			Since: webui.Time(s.since), SinceMS: webui.Millis(now.Sub(s.since)),
			Connections: s.connections, LostAt: webui.TimePtr(s.lostAt), LostCause: s.lostCause,
		},
		SlavesAt:    webui.TimePtr(s.hostsAt),
		SlavesAgeMS: webui.Age(s.hostsAt, now),
		Hosts:       make([]hostStatus, 0, len(s.hosts)),
		Grafana: grafanaStatus{
			URL: s.grafanaURL, DashboardUID: s.dashboardUID, State: syncPending,
			Syncs: s.syncs, FailedSyncs: s.failed,
			LastSyncAt: webui.TimePtr(s.lastSyncAt), LastSuccessAt: webui.TimePtr(s.lastOK),
			LastSuccessAgeMS: webui.Age(s.lastOK, now), LastErrorAt: webui.TimePtr(s.lastErrAt), LastError: s.lastErr,
			Datasources: append([]string{}, s.datasources...),
			Repairs:     s.repairs, LastRepair: s.lastRepair, LastRepairAt: webui.TimePtr(s.repairAt),
		},
	}
	if s.master.IsValid() {
		st.Master.State, st.Master.Address = masterConnected, s.master.String()
	}
	switch {
	case s.syncs == 0:
	case s.lastSyncErr:
		st.Grafana.State = syncFailing
	default:
		st.Grafana.State = syncOK
	}
	for _, h := range s.hosts {
		ip := h.IP.Unmap().WithZone("") // as Grafana's datasource names it
		name, key := s.datasourceOf(ip)
		hs := hostStatus{
			IP: ip.String(), Datasource: name,
			InGrafana: slices.Contains(s.datasources, name),
			Health:    healthUnknown,
			Slaves:    make([]slaveStatus, len(h.Slaves)),
		}
		if hh, ok := s.health[key]; ok && hs.InGrafana {
			hs.Health, hs.HealthMessage, hs.HealthCheckedAt = healthFailing, hh.Message, webui.TimePtr(hh.CheckedAt)
			if hh.OK {
				hs.Health = healthOK
			}
		}
		for i, r := range h.Slaves {
			hs.Slaves[i] = slaveStatus{
				Slave: netip.AddrPortFrom(h.IP, r.ID).String(), ID: r.ID, MetricsPort: r.MetricsPort,
			}
		}
		st.Slaves += len(h.Slaves)
		st.Hosts = append(st.Hosts, hs)
	}
	return st
}
