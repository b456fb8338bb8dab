package master

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Error messages repeat at most maxQuotedPath bytes of a path, and 40 of a
// bad value, marking a cut with "…"; a text at the bound is whole.
func TestQuotedCuts(t *testing.T) {
	at, over := strings.Repeat("p", maxQuotedPath), strings.Repeat("p", maxQuotedPath+1)
	if got := quoted(at); got != strconv.Quote(at) {
		t.Errorf("quoted of %d bytes: %s, want it whole", len(at), got)
	}
	if got, want := quoted(over), strconv.Quote(at)+"…"; got != want {
		t.Errorf("quoted of %d bytes: %s, want %s", len(over), got, want)
	}
	v40, v41 := strings.Repeat("9", 40), strings.Repeat("9", 41)
	if got := badValue("n must be small", v40).Error(); got != `n must be small, got "`+v40+`"` {
		t.Errorf("badValue of 40 bytes: %s", got)
	}
	if got := badValue("n must be small", v41).Error(); got != `n must be small, got "`+v40+`…"` {
		t.Errorf("badValue of 41 bytes: %s", got)
	}
}

// A job names itself in messages (503, 504, logs) with its input.
func TestJobString(t *testing.T) {
	for _, tc := range []struct {
		j    job
		want string
	}{
		{job{name: "fibonacci", builtin: true, n: 90}, "fibonacci n=90"},
		{job{name: "sha", input: make([]byte, 12)}, "sha (12 bytes)"},
	} {
		if got := tc.j.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.j, got, tc.want)
		}
	}
}

// /sd/targets lists a target per slave with a metrics port; a slave that
// told none (port 0) has nothing for Prometheus to scrape.
func TestTargetsSkipSlavesWithoutMetrics(t *testing.T) {
	m := newTestMaster(t, NewOptions())
	joinForTest(t, m, nodeKey{IP: netip.MustParseAddr("127.0.0.2"), ID: 1}, 9100, packets.LoadReport{MaxLoad: 1})
	joinForTest(t, m, nodeKey{IP: netip.MustParseAddr("127.0.0.3"), ID: 2}, 0, packets.LoadReport{MaxLoad: 1})
	rec := httptest.NewRecorder()
	m.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sd/targets", nil))
	var groups []struct {
		Targets []string `json:"targets"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &groups); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(groups) != 1 || len(groups[0].Targets) != 1 || groups[0].Targets[0] != "127.0.0.2:9100" {
		t.Fatalf("/sd/targets %s, want only 127.0.0.2:9100", rec.Body)
	}
}

// /api/tasks gives a task's start and end: the end is the start plus its
// duration.
func TestTasksFinishedAt(t *testing.T) {
	m := newTestMaster(t, NewOptions())
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.stats.finished(taskRecord{id: 1, task: "fibonacci", n: 90, start: start, took: 1500 * time.Millisecond}, "2880067194370816120")
	rec := httptest.NewRecorder()
	m.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/tasks", nil))
	var out struct {
		Tasks []struct {
			StartedAt  time.Time `json:"started_at"`
			FinishedAt time.Time `json:"finished_at"`
			DurationMS float64   `json:"duration_ms"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(out.Tasks) != 1 || !out.Tasks[0].StartedAt.Equal(start) || !out.Tasks[0].FinishedAt.Equal(start.Add(1500*time.Millisecond)) || out.Tasks[0].DurationMS != 1500 {
		t.Fatalf("/api/tasks %s, want started %s, finished 1.5 s later, duration 1500 ms", rec.Body, start)
	}
}
