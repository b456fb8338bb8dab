package master

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lbproject/loadbalancer/common/webui"
)

// The JSON API behind the status page: GET /api/status, /api/slaves and
// /api/tasks. Field names are snake_case and stable (new fields may be
// added, none renamed or removed); times are RFC 3339 in UTC with
// milliseconds; durations are float milliseconds in fields ending in _ms;
// task results are strings, because they can be huge.

// Slave states, as /api/slaves names them.
const (
	// joining: confirmed its join; the master is dialling its links
	// or waiting for its first load report (stateLinking).
	stateJoiningName = "joining"
	// serving: in the pool, taking tasks.
	stateServingName = "serving"
	// draining: said it is leaving (SIGTERM): takes no new task,
	// finishes those it holds, then closes its links.
	stateDrainingName = "draining"
	// ejected: in the pool but taking no task, for tries that timed out
	// or failed in a row, until ejected_until (outlier.go).
	stateEjectedName = "ejected"
	// lost: left the pool (links closed, or a load poll unanswered);
	// listed for Options.LostSlaveTTL with its figures as they were then.
	stateLostName = "lost"
)

// masterStatus is the answer of GET /api/status.
type masterStatus struct {
	Algorithm         string     `json:"algorithm"`
	Time              time.Time  `json:"time"`
	StartedAt         time.Time  `json:"started_at"`
	UptimeSeconds     float64    `json:"uptime_seconds"`
	Slaves            int        `json:"slaves"`
	SlavesJoining     int        `json:"slaves_joining"`
	SlavesLost        int        `json:"slaves_lost"`
	SlavesEjected     int        `json:"slaves_ejected"`
	MaxSlaves         int        `json:"max_slaves"`
	QueueLength       int        `json:"queue_length"`
	MaxQueueLength    int        `json:"max_queue_length"`
	RequestsPerSecond float64    `json:"requests_per_second"`
	RequestsInWindow  int        `json:"requests_in_window"`
	WindowSeconds     float64    `json:"window_seconds"`
	LatencyP50MS      *float64   `json:"latency_p50_ms"`
	LatencyP99MS      *float64   `json:"latency_p99_ms"`
	TasksTotal        uint64     `json:"tasks_total"`
	TasksCancelled    uint64     `json:"tasks_cancelled"`
	TasksHedged       uint64     `json:"tasks_hedged"`
	Ejections         uint64     `json:"ejections"`
	PollIntervalMS    float64    `json:"poll_interval_ms"`
	Tasks             []taskKind `json:"tasks"`
}

// taskKind is a task the master accepts: a built-in, or one a slave offered
// (listed from its first offer on, even while no slave offers it).
type taskKind struct {
	Name    string `json:"name"`
	Builtin bool   `json:"builtin"`
	// Slaves is how many slaves in the pool offer it now.
	Slaves int `json:"slaves"`
	// MaxN is a built-in's largest n (its input is ?n=N).
	MaxN uint64 `json:"max_n,omitempty"`
	// The rest is for a slave's own task (input ?input=TEXT or a POST
	// body): the most restrictive limits of the slaves that offer it.
	MaxInput    int     `json:"max_input,omitempty"` // bytes
	Load        uint64  `json:"load,omitempty"`      // per task
	LoadPerByte uint64  `json:"load_per_byte,omitempty"`
	TimeoutMS   float64 `json:"timeout_ms,omitempty"` // 0: the master's task timeout
}

func taskKindOf(t taskView) taskKind {
	k := taskKind{Name: t.Name, Builtin: t.Builtin != nil, Slaves: t.Slaves}
	if t.Builtin != nil {
		k.MaxN = t.Builtin.MaxN
		return k
	}
	l := t.Limits
	k.MaxInput, k.Load, k.LoadPerByte, k.TimeoutMS = l.MaxInput, l.PerTask, l.PerByte, webui.Millis(l.Timeout)
	return k
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
	TasksCancelled  uint64     `json:"tasks_cancelled"`
	TasksHedged     uint64     `json:"tasks_hedged"`
	Ejections       int        `json:"ejections"`
	EjectedUntil    *time.Time `json:"ejected_until"`
	LastReportAt    *time.Time `json:"last_report_at"`
	LastReportAgeMS *float64   `json:"last_report_age_ms"`
	Reports         uint64     `json:"reports"`
	MetricsPort     uint16     `json:"metrics_port"`
	Tasks           []string   `json:"tasks"` // the tasks it offers; none once draining
	LoadHistory     []float64  `json:"load_history"`

	key        nodeKey
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
	serving, queued := m.pool.size()
	lost, joining := m.history.lostCount(now), len(m.reg.linking())
	f := m.stats.figures(now)
	st := masterStatus{
		Algorithm:         m.opts.Algorithm,
		Time:              webui.Time(now),
		StartedAt:         webui.Time(m.stats.started),
		UptimeSeconds:     now.Sub(m.stats.started).Round(time.Millisecond).Seconds(),
		Slaves:            serving,
		SlavesJoining:     joining,
		SlavesLost:        lost,
		SlavesEjected:     m.pool.ejectedCount(),
		MaxSlaves:         m.opts.MaxSlaves,
		QueueLength:       queued,
		MaxQueueLength:    m.opts.QueueLength,
		RequestsPerSecond: math.Round(f.rate()*1000) / 1000,
		RequestsInWindow:  f.requests,
		WindowSeconds:     statsWindow.Seconds(),
		TasksTotal:        m.taskSeq.Load(),
		TasksCancelled:    m.counts.cancelled.Load(),
		TasksHedged:       m.counts.hedged.Load(),
		Ejections:         m.counts.ejections.Load(),
		PollIntervalMS:    webui.Millis(m.opts.PollInterval),
		Tasks:             []taskKind{},
	}
	if f.requests > 0 {
		p50, p99 := webui.Millis(f.p50), webui.Millis(f.p99)
		st.LatencyP50MS, st.LatencyP99MS = &p50, &p99
	}
	for _, t := range m.catalog.listed() {
		st.Tasks = append(st.Tasks, taskKindOf(t))
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
	list := m.slaveList(now, history)
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
	respondAPI(w, http.StatusNotFound, apiError{fmt.Sprintf("no API endpoint %s: endpoints are /api/status, /api/slaves, /api/tasks", quoted(r.URL.Path))})
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

// ---- built from the sessions, the pool and the history ----------------------

// slaveList is every slave /api/slaves lists, each with at most n load
// reports: those in the pool first, in pool order, then those joining, then
// the lost ones. The pool is read before the history, which leaves out a
// member lost in between (see history.listed).
func (m *Master) slaveList(now time.Time, n int) []slaveStatus {
	m.pool.mu.Lock()
	sessions := make([]*session, 0, len(m.pool.members))
	serving := make([]slaveStatus, 0, len(m.pool.members))
	for _, x := range m.pool.members {
		mb := x.(*member)
		sessions = append(sessions, mb.s)
		serving = append(serving, mb.statusLocked(now))
	}
	m.pool.mu.Unlock()
	for i, s := range sessions {
		serving[i].Tasks = m.catalog.tasksOf(s)
	}
	list, lost := m.history.listed(sessions, serving, now, n)
	for _, k := range m.reg.linking() {
		list = append(list, slaveStatus{Slave: k.String(), IP: k.IP.String(), ID: k.ID,
			State: stateJoiningName, Tasks: []string{}, LoadHistory: []float64{}})
	}
	return append(list, lost...)
}

// slaveStatus is s as /api/slaves shows it now, with at most n load reports.
func (m *Master) slaveStatus(s *session, now time.Time, n int) slaveStatus {
	m.pool.mu.Lock()
	st := s.mb.statusLocked(now)
	m.pool.mu.Unlock()
	st.LoadHistory, st.Reports = m.history.last(s, n)
	st.Tasks = m.catalog.tasksOf(s)
	return st
}

// statusLocked is the slave's figures as /api/slaves shows them; the load
// history is the history's to add. The caller holds the pool's lock.
func (mb *member) statusLocked(now time.Time) slaveStatus {
	s := mb.s
	state, ejectedUntil := stateServingName, (*time.Time)(nil)
	switch {
	case mb.fig.Draining:
		state = stateDrainingName
	case mb.fig.Ejected:
		state, ejectedUntil = stateEjectedName, webui.TimePtr(mb.outlier.until)
	}
	return slaveStatus{
		Slave: s.key.nodeKey.String(), IP: s.key.IP.String(), ID: s.key.ID, State: state,
		JoinedAt: webui.TimePtr(s.joinedAt), Load: mb.fig.Load(), ReportedLoad: mb.reported, CPUFraction: mb.fig.Factor,
		CommittedLoad: mb.fig.Committed, MaxLoad: mb.fig.MaxLoad, TasksInFlight: mb.fig.InFlight,
		TasksDone: s.done.Load(), TasksFailed: s.failed.Load(), TasksRefused: s.refused.Load(),
		TasksCancelled: s.cancelled.Load(), TasksHedged: s.hedged.Load(), Ejections: mb.outlier.ejections, EjectedUntil: ejectedUntil,
		LastReportAt: webui.TimePtr(mb.lastReport), LastReportAgeMS: webui.Age(mb.lastReport, now),
		MetricsPort: s.metricsPort,
		key:         s.key.nodeKey, lastReport: mb.lastReport,
	}
}
