package master

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbproject/loadbalancer/common/promsd"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/common/webui"
)

func (m *Master) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", m.handlePage)
	mux.HandleFunc("GET /static/{asset}", webui.AssetHandler(assets))
	mux.HandleFunc("GET /api/status", m.handleStatus)
	mux.HandleFunc("GET /api/slaves", m.handleSlaves)
	mux.HandleFunc("GET /api/tasks", m.handleTasks)
	mux.HandleFunc("GET /api/", handleAPINotFound)
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /sd/targets", m.handleTargets)
	// A browser asks for it with the first page view; it is no task.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /{task}", m.handleTask)
	mux.HandleFunc("POST /{task}", m.handleTask)
	// Everything else, so that it gets this API's answers (JSON when asked
	// for) rather than the mux's plain "404 page not found" and 405.
	mux.HandleFunc("/", m.handleUnrouted)
	return mux
}

// maxQuotedPath caps how much of a request's path an error message repeats.
const maxQuotedPath = 64

// handleUnrouted answers what no route takes: 405 for a method other than
// GET and HEAD, 404 for a path that is no task (/fibonacci/, /a/b).
func (m *Master) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notAllowed(w, r)
		return
	}
	respondError(w, r, http.StatusNotFound, fmt.Sprintf("no such path %s: tasks are /NAME?n=N or /NAME?input=TEXT with NAME one of %s", quoted(r.URL.Path), m.catalog.names()))
}

// notAllowed answers a method that only the slaves' own tasks take (POST) or
// that nothing takes.
func notAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	respondError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use GET", quoted(r.Method)))
}

// quoted quotes s, cut to maxQuotedPath bytes: a 900 KB path gets a short
// answer.
func quoted(s string) string {
	if len(s) > maxQuotedPath {
		return strconv.Quote(s[:maxQuotedPath]) + "…"
	}
	return strconv.Quote(s)
}

// TaskAnswer is the JSON form of a task's answer (Accept: application/json).
type TaskAnswer struct {
	Task string `json:"task"`
	// N is a built-in task's input; 0 for a slave's own task, whose input
	// is InputBytes long.
	N          uint64 `json:"n"`
	InputBytes *int   `json:"input_bytes,omitempty"`
	// Result is the result when it is UTF-8 text; otherwise it is empty
	// and ResultBase64 holds it (standard base64, with padding).
	Result       string  `json:"result"`
	ResultBase64 string  `json:"result_base64,omitempty"`
	TaskID       uint64  `json:"task_id"`
	Slave        string  `json:"slave"`
	DurationMS   float64 `json:"duration_ms"`
	// ComputeMS is the slave's computing time; DurationMS adds queueing,
	// the network and any re-dispatch.
	ComputeMS float64 `json:"compute_ms"`
}

func (m *Master) handleTask(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("task")
	t, ok := m.catalog.lookup(name)
	switch {
	case r.Method == http.MethodPost && (t.Builtin != nil || tasks.Reserved(name)):
		notAllowed(w, r)
		return
	case !ok:
		respondError(w, r, http.StatusNotFound, fmt.Sprintf("unknown task %s: tasks are %s", quoted(name), m.catalog.names()))
		return
	}
	if r.Method == http.MethodHead {
		// HEAD never runs a task: it says whether the same GET is valid.
		if _, status, err := m.readJob(w, r, t); err != nil {
			respondError(w, r, status, err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return
	}
	status := m.serveTask(w, r, t)
	end := time.Now()
	// Only catalogue names reach here: the label's values stay bounded.
	m.metrics.requests.WithLabelValues(t.Name, statusLabel(status)).Inc()
	m.metrics.latency.WithLabelValues(t.Name).Observe(end.Sub(start).Seconds())
	m.stats.observe(end, end.Sub(start))
}

// serveTask answers one task request and returns the status it sent.
func (m *Master) serveTask(w http.ResponseWriter, r *http.Request, t taskView) int {
	j, status, err := m.readJob(w, r, t)
	if err != nil {
		return respondError(w, r, status, err.Error())
	}
	if t.Slaves == 0 && m.Slaves() > 0 {
		// Offered before, by no slave in the pool now: waiting for one to
		// join would only hold the client.
		w.Header().Set("Retry-After", "1")
		return respondError(w, r, http.StatusServiceUnavailable, fmt.Sprintf("no slave offers %s now", t.Name))
	}
	res, err := m.runTask(withClient(r.Context(), clientAddr(r)), j)
	switch {
	case err == nil:
	case errors.Is(err, errClientQueueFull):
		w.Header().Set("Retry-After", "1")
		return respondError(w, r, http.StatusTooManyRequests, fmt.Sprintf("%s: %v (-client-max-queued %d): retry later", j, err, m.opts.ClientMaxQueued))
	case (errors.Is(err, errNoCapacity) || errors.Is(err, errQueueFull)) && m.Slaves() == 0:
		w.Header().Set("Retry-After", "1")
		return respondError(w, r, http.StatusServiceUnavailable, fmt.Sprintf("no slave has joined this master yet: start a slave (%s)", j))
	case errors.Is(err, errNoCapacity), errors.Is(err, errQueueFull):
		w.Header().Set("Retry-After", "1")
		return respondError(w, r, http.StatusServiceUnavailable, fmt.Sprintf("no slave can take %s now: %v", j, err))
	case errors.Is(err, errTaskTimeout):
		return respondError(w, r, http.StatusGatewayTimeout, fmt.Sprintf("%s: %v within %s", j, err, j.timeout))
	case errors.Is(err, errTaskFailed):
		return respondError(w, r, http.StatusBadGateway, fmt.Sprintf("%s: %v", j, err))
	case errors.Is(err, context.Canceled):
		m.log.Debug("client left before the answer", "task_id", res.TaskID, "task", t.Name)
		return 499 // nginx's "client closed request", for the metrics only
	default:
		return respondError(w, r, http.StatusInternalServerError, err.Error())
	}
	if wantsJSON(r) {
		return respondJSON(w, http.StatusOK, answerOf(j, res))
	}
	if j.builtin {
		w.Header()["Content-Type"] = textPlain
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, res.Value)
		_, _ = io.WriteString(w, "\n")
		return http.StatusOK
	}
	// A slave's own task's result goes out as it came, byte for byte.
	if utf8.ValidString(res.Value) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(res.Value))
	return http.StatusOK
}

// answerOf is the JSON answer of job j's result.
func answerOf(j job, res taskOutcome) TaskAnswer {
	a := TaskAnswer{
		Task: j.name, N: j.n, Result: res.Value, TaskID: res.TaskID, Slave: res.Slave.String(),
		DurationMS: float64(res.Duration.Microseconds()) / 1000, ComputeMS: float64(res.Compute.Microseconds()) / 1000,
	}
	if !j.builtin {
		n := len(j.input)
		a.InputBytes = &n
		if !utf8.ValidString(res.Value) {
			a.Result, a.ResultBase64 = "", base64.StdEncoding.EncodeToString([]byte(res.Value))
		}
	}
	return a
}

// clientAddr is the client a request waits in the queue as: its source
// address (the zero address, one shared queue, if it cannot be read).
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// parseQueryN parses the request's query strictly, then reads n from it:
// r.URL.Query() silently drops what it cannot parse (a ';' separator, more
// than 10,000 parameters), which would turn into a misleading "missing n".
func parseQueryN(r *http.Request, t tasks.Task) (uint64, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, fmt.Errorf("bad query string (%v): use /%s?n=N, parameters separated by '&'", err, t.Name)
	}
	return ParseN(q, t)
}

// ParseN reads the task input from the query: exactly one n, a decimal
// whole number from 0 to t.MaxN.
func ParseN(q url.Values, t tasks.Task) (uint64, error) {
	valid := func() string { return fmt.Sprintf("n must be a whole number from 0 to %d", t.MaxN) }
	s, ok, err := queryValue(q, "n", valid)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, fmt.Errorf("missing n: use /%s?n=N; %s", t.Name, valid())
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > t.MaxN {
		return 0, badValue(valid(), s)
	}
	return n, nil
}

// queryValue returns the value of query parameter name, which may be given
// once at most; ok is false when it is absent. valid says what a valid value
// is, for the error; it is called only on an error, off the request's
// normal path.
func queryValue(q url.Values, name string, valid func() string) (s string, ok bool, err error) {
	vs, ok := q[name]
	switch {
	case !ok:
		return "", false, nil
	case len(vs) != 1:
		return "", true, fmt.Errorf("%s given %d times; give it once: %s", name, len(vs), valid())
	}
	return vs[0], true, nil
}

// badValue says that s is not valid, quoting at most 40 bytes of it.
func badValue(valid, s string) error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Errorf("%s, got %q", valid, s)
}

// handleTargets serves Prometheus HTTP service discovery (http_sd_configs):
// one target group per slave's metrics endpoint.
func (m *Master) handleTargets(w http.ResponseWriter, _ *http.Request) {
	groups := []promsd.TargetGroup{}
	for _, e := range m.pool.entries() {
		if e.MetricsPort != 0 {
			groups = append(groups, promsd.SlaveGroup(e.ID, netip.AddrPortFrom(e.IP, e.MetricsPort)))
		}
	}
	respondJSON(w, http.StatusOK, groups)
}

// textPlain is the Content-Type of text answers, set without Header.Set's
// allocation on the task path. Its capacity is its length: an append to a
// response's copy cannot write into it.
var textPlain = []string{"text/plain; charset=utf-8"}

// statusLabel is the metrics' label for an HTTP status, without an
// allocation for the usual one.
func statusLabel(status int) string {
	if status == http.StatusOK {
		return "200"
	}
	return strconv.Itoa(status)
}

// wantsJSON reports whether the client's Accept header names JSON.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if !strings.Contains(strings.ToLower(accept), "json") {
		return false // most requests: no list to split (ToLower of lower case allocates nothing)
	}
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

// respondError writes a one-line error, as JSON when the client asked for it.
func respondError(w http.ResponseWriter, r *http.Request, status int, msg string) int {
	if wantsJSON(r) {
		return respondJSON(w, status, map[string]string{"error": msg})
	}
	w.Header()["Content-Type"] = textPlain
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
	return status
}

func respondJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}
