package master_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/testutil"
)

// tasksTotal is the master's count of task requests run.
func tasksTotal(t *testing.T, base string) float64 {
	t.Helper()
	_, _, body := do(t, "GET", base+"/api/status", nil)
	var st struct {
		TasksTotal float64 `json:"tasks_total"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st.TasksTotal
}

// The edges a newcomer meets: none runs a task, each gets this API's own
// answer (JSON when asked for), none echoes a huge path.
func TestHTTPEdges(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	base := "http://" + m.HTTPAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "a slave", func() bool { return m.Slaves() == 1 })
	many := strings.Repeat("a=1&", 10_001) + "n=5"
	huge := "/" + strings.Repeat("x", 900_000)
	const json = "application/json"

	for _, tc := range []struct {
		name, method, path, accept string
		status                     int
		body                       string // a substring
	}{
		{"HEAD, valid", "HEAD", "/primes?n=200000", "", 200, ""},
		{"HEAD, invalid", "HEAD", "/primes?n=-1", "", 400, ""},
		{"favicon", "GET", "/favicon.ico", "", 204, ""},
		{"POST, JSON asked", "POST", "/fibonacci?n=5", json, 405, `{"error":"method \"POST\" not allowed: use GET"}`},
		{"DELETE, text", "DELETE", "/fibonacci?n=5", "", 405, "method \"DELETE\" not allowed"},
		{"trailing slash", "GET", "/fibonacci/", "", 404, "no such path \"/fibonacci/\": tasks are /NAME?n=N"},
		{"trailing slash, JSON", "GET", "/fibonacci/?n=5", json, 404, `"error":"no such path \"/fibonacci/\"`},
		{"two segments", "GET", "/a/b", "", 404, "no such path"},
		{"huge path", "GET", huge, "", 404, "unknown task \"xxxxxxxx"},
		{"huge path with a slash", "GET", huge + "/", "", 404, "no such path \"/xxxx"},
		{"semicolon", "GET", "/fibonacci?n=5;n=6", "", 400, "bad query string (invalid semicolon separator in query)"},
		{"10,001 parameters", "GET", "/fibonacci?" + many, "", 400, "bad query string (number of URL query parameters exceeded limit)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := do(t, tc.method, base+tc.path, nil, "Accept", tc.accept)
			if status != tc.status || !strings.Contains(string(body), tc.body) {
				t.Errorf("%s %.40s: %d %.200q, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.body)
			}
			if len(body) > 300 {
				t.Errorf("%s %.40s: a %d-byte answer", tc.method, tc.path, len(body))
			}
			if tc.accept == json && !strings.HasPrefix(hdr.Get("Content-Type"), json) {
				t.Errorf("Content-Type %q, want JSON", hdr.Get("Content-Type"))
			}
			if status == 405 && hdr.Get("Allow") != "GET, HEAD" {
				t.Errorf("405 with Allow %q", hdr.Get("Allow"))
			}
		})
	}
	if n := tasksTotal(t, base); n != 0 {
		t.Errorf("%v tasks run by requests that should run none", n)
	}
	// The same GET runs the task.
	if status, _, body := do(t, "GET", base+"/fibonacci?n=10", nil); status != 200 || string(body) != "55\n" {
		t.Errorf("GET /fibonacci?n=10: %d %q", status, body)
	}
	if n := tasksTotal(t, base); n != 1 {
		t.Errorf("tasks_total %v after one GET, want 1", n)
	}
}

// Before its first poll the page claims nothing: the "No slave yet" and
// "No task yet" notes are hidden until the data says so.
func TestPageEmptyNotesHiddenBeforePoll(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	_, _, body := do(t, "GET", "http://"+m.HTTPAddr().String()+"/", nil)
	for _, id := range []string{"no-slaves", "no-tasks"} {
		if !strings.Contains(string(body), `id="`+id+`" hidden>`) {
			t.Errorf("#%s is shown before the first poll", id)
		}
	}
}
