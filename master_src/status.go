package master

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/common/webui"
)

// The JSON API behind the status page: GET /api/status, /api/slaves and
// /api/tasks. Field names are snake_case and stable (new fields may be
// added, none renamed or removed); times are RFC 3339 in UTC with
// milliseconds; durations are float milliseconds in fields ending in _ms;
// task results are strings, because they can be huge.

// Slave states, as /api/slaves names them.
const (
	// stateJoining: confirmed its join; the master is dialling its links
	// or waiting for its first load report.
	stateJoining = "joining"
	// stateServing: in the pool, taking tasks.
	stateServing = "serving"
	// stateDraining: said it is leaving (SIGTERM): takes no new task,
	// finishes those it holds, then closes its links.
	stateDraining = "draining"
	// stateLost: left the pool (links closed, or a load poll unanswered);
	// listed for Options.LostSlaveTTL with its figures as they were then.
	stateLost = "lost"
)

// maxLostListed bounds the lost slaves listed, whatever the churn.
const maxLostListed = 1000

// masterStatus is the answer of GET /api/status.
type masterStatus struct {
	Algorithm         string     `json:"algorithm"`
	Time              time.Time  `json:"time"`
	StartedAt         time.Time  `json:"started_at"`
	UptimeSeconds     float64    `json:"uptime_seconds"`
	Slaves            int        `json:"slaves"`
	SlavesJoining     int        `json:"slaves_joining"`
	SlavesLost        int        `json:"slaves_lost"`
	MaxSlaves         int        `json:"max_slaves"`
	QueueLength       int        `json:"queue_length"`
	MaxQueueLength    int        `json:"max_queue_length"`
	RequestsPerSecond float64    `json:"requests_per_second"`
	RequestsInWindow  int        `json:"requests_in_window"`
	WindowSeconds     float64    `json:"window_seconds"`
	LatencyP50MS      *float64   `json:"latency_p50_ms"`
	LatencyP99MS      *float64   `json:"latency_p99_ms"`
	TasksTotal        uint64     `json:"tasks_total"`
	PollIntervalMS    float64    `json:"poll_interval_ms"`
	Tasks             []taskKind `json:"tasks"`
}

// taskKind is a task type the master accepts.
type taskKind struct {
	Name string `json:"name"`
	MaxN uint64 `json:"max_n"`
}

// slavesStatus is the answer of GET /api/slaves.
type slavesStatus struct {
	Time           time.Time     `json:"time"`
	PollIntervalMS float64       `json:"poll_interval_ms"`
	HistoryLength  int           `json:"history_length"`
	Slaves         []slaveStatus `json:"slaves"`
}

// slaveStatus is one slave in GET /api/slaves.
type slaveStatus struct {
	Slave           string     `json:"slave"`
	IP              string     `json:"ip"`
	ID              uint16     `json:"id"`
	State           string     `json:"state"`
	JoinedAt        *time.Time `json:"joined_at"`
	LostAt          *time.Time `json:"lost_at"`
	LostCause       string     `json:"lost_cause"`
	Load            float64    `json:"load"`
	ReportedLoad    float64    `json:"reported_load"`
	CPUFraction     float64    `json:"cpu_fraction"`
	CommittedLoad   uint64     `json:"committed_load"`
	MaxLoad         uint64     `json:"max_load"`
	TasksInFlight   int        `json:"tasks_in_flight"`
	TasksDone       uint64     `json:"tasks_done"`
	TasksFailed     uint64     `json:"tasks_failed"`
	TasksRefused    uint64     `json:"tasks_refused"`
	LastReportAt    *time.Time `json:"last_report_at"`
	LastReportAgeMS *float64   `json:"last_report_age_ms"`
	Reports         uint64     `json:"reports"`
	MetricsPort     uint16     `json:"metrics_port"`
	LoadHistory     []float64  `json:"load_history"`

	key        SlaveKey
	lastReport time.Time // for the age of a lost slave's last report
	lostAt     time.Time
}

// tasksStatus is the answer of GET /api/tasks.
type tasksStatus struct {
	Time     time.Time    `json:"time"`
	Limit    int          `json:"limit"`
	Capacity int          `json:"capacity"`
	Tasks    []taskResult `json:"tasks"`
}

// taskResult is one finished task in GET /api/tasks.
type taskResult struct {
	TaskID          uint64    `json:"task_id"`
	Task            string    `json:"task"`
	N               uint64    `json:"n"`
	Slave           string    `json:"slave"`
	Status          string    `json:"status"`
	Error           string    `json:"error"`
	Result          string    `json:"result"`
	ResultLength    int       `json:"result_length"`
	ResultTruncated bool      `json:"result_truncated"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationMS      float64   `json:"duration_ms"`
}

// defaultTaskLimit is how many tasks /api/tasks lists without ?limit.
const defaultTaskLimit = 20

func (m *Master) handleStatus(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	serving, lost, queued := m.pool.counts(now)
	joining := 0
	for _, k := range m.joins.joining() {
		if !m.pool.contains(k) { // in the pool already, not yet out of the table
			joining++
		}
	}
	f := m.stats.figures(now)
	st := masterStatus{
		Algorithm:         m.opts.Algorithm,
		Time:              webui.Time(now),
		StartedAt:         webui.Time(m.stats.started),
		UptimeSeconds:     now.Sub(m.stats.started).Round(time.Millisecond).Seconds(),
		Slaves:            serving,
		SlavesJoining:     joining,
		SlavesLost:        lost,
		MaxSlaves:         m.opts.MaxSlaves,
		QueueLength:       queued,
		MaxQueueLength:    m.opts.QueueLength,
		RequestsPerSecond: math.Round(f.rate()*1000) / 1000,
		RequestsInWindow:  f.requests,
		WindowSeconds:     statsWindow.Seconds(),
		TasksTotal:        m.taskSeq.Load(),
		PollIntervalMS:    webui.Millis(m.opts.PollInterval),
		Tasks:             []taskKind{},
	}
	if f.requests > 0 {
		p50, p99 := webui.Millis(f.p50), webui.Millis(f.p99)
		st.LatencyP50MS, st.LatencyP99MS = &p50, &p99
	}
	for _, t := range tasks.All() {
		st.Tasks = append(st.Tasks, taskKind{Name: t.Name, MaxN: t.MaxN})
	}
	respondAPI(w, http.StatusOK, st)
}

func (m *Master) handleSlaves(w http.ResponseWriter, r *http.Request) {
	history, err := countParam(r.URL.Query(), "history", m.opts.LoadHistory, 0, m.opts.LoadHistory)
	if err != nil {
		respondAPI(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	now := time.Now()
	list := m.pool.slaves(now, history)
	// Joining slaves come after those in the pool, before the lost ones.
	var joining []slaveStatus
	for _, k := range m.joins.joining() {
		if !m.pool.contains(k) {
			joining = append(joining, slaveStatus{Slave: k.String(), IP: k.IP.String(), ID: k.ID,
				State: stateJoining, LoadHistory: []float64{}})
		}
	}
	if len(joining) > 0 {
		serving := 0
		for serving < len(list) && list[serving].State != stateLost {
			serving++
		}
		list = append(list[:serving], append(joining, list[serving:]...)...)
	}
	respondAPI(w, http.StatusOK, slavesStatus{
		Time: webui.Time(now), PollIntervalMS: webui.Millis(m.opts.PollInterval), HistoryLength: m.opts.LoadHistory, Slaves: list,
	})
}

func (m *Master) handleTasks(w http.ResponseWriter, r *http.Request) {
	limit, err := countParam(r.URL.Query(), "limit", min(defaultTaskLimit, m.stats.capacity()), 1, m.stats.capacity())
	if err != nil {
		respondAPI(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	now := time.Now()
	recs := m.stats.recent(limit)
	out := tasksStatus{Time: webui.Time(now), Limit: limit, Capacity: m.stats.capacity(), Tasks: make([]taskResult, len(recs))}
	for i, rec := range recs {
		tr := taskResult{
			TaskID: rec.id, Task: rec.task, N: rec.n, Status: rec.status.String(), Error: rec.err,
			Result: rec.result, ResultLength: rec.resultLen, ResultTruncated: rec.resultLen > len(rec.result),
			StartedAt: webui.Time(rec.start), FinishedAt: webui.Time(rec.start.Add(rec.took)), DurationMS: webui.Millis(rec.took),
		}
		if rec.slave.IP.IsValid() {
			tr.Slave = rec.slave.String()
		}
		out.Tasks[i] = tr
	}
	respondAPI(w, http.StatusOK, out)
}

// handleAPINotFound answers any other /api/ path.
func handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	respondAPI(w, http.StatusNotFound, apiError{fmt.Sprintf("no API endpoint %s: endpoints are /api/status, /api/slaves, /api/tasks", r.URL.Path)})
}

type apiError struct {
	Error string `json:"error"`
}

// respondAPI writes an API answer; API answers are never cached.
func respondAPI(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	respondJSON(w, status, v)
}

// countParam reads an optional whole-number query parameter: def when it is
// absent, an error when it is repeated, malformed or below lo, and capped
// at hi.
func countParam(q url.Values, name string, def, lo, hi int) (int, error) {
	valid := func() string {
		return fmt.Sprintf("%s must be a whole number from %d (larger values give %d)", name, lo, hi)
	}
	s, ok, err := queryValue(q, name, valid)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return hi, nil // all digits, just very large
	case err != nil || n < uint64(lo):
		return 0, badValue(valid(), s)
	}
	return int(min(n, uint64(hi))), nil
}

// chartValue rounds a load sample to 4 significant digits: plenty for a
// chart, and it keeps /api/slaves small (a sample is at most about 11
// characters of JSON instead of up to 24).
func chartValue(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	e := int(math.Floor(math.Log10(math.Abs(x)))) - 3
	if e >= 0 {
		q := math.Pow10(e)
		return math.Round(x/q) * q
	}
	q := math.Pow10(-e)
	return math.Round(x*q) / q
}

// ---- the pool's side, under its lock ----------------------------------------

// counts returns how many slaves are serving and listed as lost, and how
// many requests wait for room.
func (p *pool) counts(now time.Time) (serving, lost, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLostLocked(now)
	return len(p.members), len(p.lost), p.queued
}

// slaves lists the slaves in pool order, then the lost ones, latest loss
// first, each with at most history load reports.
func (p *pool) slaves(now time.Time, history int) []slaveStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLostLocked(now)
	out := make([]slaveStatus, 0, len(p.members)+len(p.lost))
	for _, m := range p.members {
		out = append(out, m.statusLocked(now, history))
	}
	for i := len(p.lost) - 1; i >= 0; i-- {
		v := p.lost[i]
		v.LoadHistory = v.LoadHistory[max(len(v.LoadHistory)-history, 0):]
		v.LastReportAgeMS = webui.Age(v.lastReport, now)
		out = append(out, v)
	}
	return out
}

// statusLocked is m as /api/slaves shows it, with its last history load
// reports, oldest first. The caller holds the pool's lock.
func (m *member) statusLocked(now time.Time, history int) slaveStatus {
	h := min(uint64(history), uint64(len(m.history)), m.reports)
	hist := make([]float64, h)
	for i := range hist {
		hist[i] = m.history[(m.reports-h+uint64(i))%uint64(len(m.history))]
	}
	state := stateServing
	if m.draining {
		state = stateDraining
	}
	return slaveStatus{
		Slave: m.key.String(), IP: m.key.IP.String(), ID: m.key.ID, State: state,
		JoinedAt: webui.TimePtr(m.joinedAt), Load: m.load(), ReportedLoad: m.reported, CPUFraction: m.factor,
		CommittedLoad: m.outstanding, MaxLoad: m.maxLoad, TasksInFlight: m.inFlight,
		TasksDone: m.done.Load(), TasksFailed: m.failed.Load(), TasksRefused: m.refused.Load(),
		LastReportAt: webui.TimePtr(m.lastReport), LastReportAgeMS: webui.Age(m.lastReport, now),
		Reports: m.reports, MetricsPort: m.metricsPort, LoadHistory: hist,
		key: m.key, lastReport: m.lastReport,
	}
}

// keepLostLocked lists m, just removed, as lost for p.lostFor.
func (p *pool) keepLostLocked(m *member, cause string, now time.Time) {
	if p.lostFor <= 0 {
		return
	}
	v := m.statusLocked(now, len(m.history))
	v.State, v.LostAt, v.LostCause, v.lostAt = stateLost, webui.TimePtr(now), cause, now
	p.pruneLostLocked(now)
	if len(p.lost) >= maxLostListed {
		p.lost = append(p.lost[:0], p.lost[1:]...)
	}
	p.lost = append(p.lost, v)
}

// pruneLostLocked forgets the slaves lost more than p.lostFor ago.
func (p *pool) pruneLostLocked(now time.Time) {
	i := 0
	for i < len(p.lost) && now.Sub(p.lost[i].lostAt) > p.lostFor {
		i++
	}
	if i > 0 {
		p.lost = append(p.lost[:0], p.lost[i:]...)
	}
}

// forgetLostLocked drops the lost record of a slave that joins again.
func (p *pool) forgetLostLocked(key SlaveKey) {
	p.lost = slices.DeleteFunc(p.lost, func(v slaveStatus) bool { return v.key == key })
}
