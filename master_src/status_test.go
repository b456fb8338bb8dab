package master_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/apijson"
)

// The field names of the API are a contract: these lists change only by
// adding names (and the README with them).
var (
	statusFields = []string{"algorithm", "time", "started_at", "uptime_seconds", "slaves", "slaves_joining",
		"slaves_lost", "slaves_ejected", "max_slaves", "queue_length", "max_queue_length", "requests_per_second",
		"requests_in_window", "window_seconds", "latency_p50_ms", "latency_p99_ms", "tasks_total",
		"tasks_cancelled", "tasks_hedged", "ejections", "poll_interval_ms", "tasks"}
	slavesFields = []string{"time", "poll_interval_ms", "history_length", "slaves"}
	slaveFields  = []string{"slave", "ip", "id", "state", "joined_at", "lost_at", "lost_cause", "load",
		"reported_load", "cpu_fraction", "committed_load", "max_load", "tasks_in_flight", "tasks_done",
		"tasks_failed", "tasks_refused", "tasks_cancelled", "tasks_hedged", "ejections", "ejected_until", "last_report_at", "last_report_age_ms", "reports", "metrics_port",
		"tasks", "load_history"}
	tasksFields = []string{"time", "limit", "capacity", "tasks"}
	taskFields  = []string{"task_id", "task", "n", "slave", "status", "error", "result", "result_length",
		"result_truncated", "started_at", "finished_at", "duration_ms"}
)

// obj is a decoded JSON object as a client sees it.
type obj = apijson.Object

func getAPI(t *testing.T, url string, wantStatus int) obj {
	t.Helper()
	status, hdr, body := testutil.Get(t, url, "")
	if status != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", url, status, wantStatus, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", url, ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q, want no-store", url, cc)
	}
	return apijson.Decode(t, body)
}

func TestStatusEndpoints(t *testing.T) {
	before := time.Now().Add(-time.Second)
	_, base, _ := cluster(t, "round_robin", 2)
	for _, path := range []string{"/fibonacci?n=90", "/fibonacci?n=1000", "/primes?n=100"} {
		if status, _, body := testutil.Get(t, base+path, ""); status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}

	st := getAPI(t, base+"/api/status", 200)
	st.CheckFields(t, "/api/status", statusFields)
	if got := st.Str(t, "algorithm"); got != "round_robin" {
		t.Errorf("algorithm %q", got)
	}
	now, started := st.Time(t, "time"), st.Time(t, "started_at")
	if started.Before(before) || now.Before(started) || now.After(time.Now().Add(time.Second)) {
		t.Errorf("started_at %s, time %s", started, now)
	}
	for k, want := range map[string]float64{"slaves": 2, "slaves_joining": 0, "slaves_lost": 0, "queue_length": 0,
		"max_slaves": 30, "max_queue_length": 1024, "tasks_total": 3, "requests_in_window": 3, "window_seconds": 10,
		"poll_interval_ms": 100, "slaves_ejected": 0, "tasks_cancelled": 0, "tasks_hedged": 0, "ejections": 0} {
		if got := st.Num(t, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if rps := st.Num(t, "requests_per_second"); rps <= 0 {
		t.Errorf("requests_per_second %v", rps)
	}
	if p50, p99 := st.Num(t, "latency_p50_ms"), st.Num(t, "latency_p99_ms"); p50 <= 0 || p99 < p50 {
		t.Errorf("latency p50 %v p99 %v", p50, p99)
	}
	// work is a built-in too, but listed only once a slave offers it.
	if kinds := st.Objects(t, "tasks"); len(kinds) != 2 || kinds[0].Str(t, "name") != "fibonacci" ||
		kinds[0].Num(t, "max_n") != 1_000_000 || kinds[0].Num(t, "slaves") != 2 || kinds[1].Str(t, "name") != "primes" {
		t.Errorf("tasks %v", st["tasks"])
	}

	sl := getAPI(t, base+"/api/slaves", 200)
	sl.CheckFields(t, "/api/slaves", slavesFields)
	if sl.Num(t, "history_length") != 180 || sl.Num(t, "poll_interval_ms") != 100 {
		t.Errorf("history_length %v, poll_interval_ms %v", sl["history_length"], sl["poll_interval_ms"])
	}
	slaves := sl.Objects(t, "slaves")
	if len(slaves) != 2 {
		t.Fatalf("%d slaves listed, want 2", len(slaves))
	}
	done := 0.0
	for _, s := range slaves {
		s.CheckFields(t, "a slave", slaveFields)
		key := s.Str(t, "slave")
		if want := fmt.Sprintf("%s:%v", s.Str(t, "ip"), s.Num(t, "id")); key != want || !strings.HasPrefix(key, "127.0.0.1:") {
			t.Errorf("slave %q, ip and id say %q", key, want)
		}
		if s.Str(t, "state") != "serving" || s["lost_at"] != nil || s.Str(t, "lost_cause") != "" {
			t.Errorf("%s: state %v, lost_at %v", key, s["state"], s["lost_at"])
		}
		if s.Time(t, "joined_at").IsZero() || s.Time(t, "last_report_at").IsZero() {
			t.Errorf("%s: joined_at %v, last_report_at %v", key, s["joined_at"], s["last_report_at"])
		}
		if age := s.Num(t, "last_report_age_ms"); age < 0 || age > 5000 {
			t.Errorf("%s: last report %v ms ago", key, age)
		}
		if s.Num(t, "max_load") != 100_000_000_000 || s.Num(t, "cpu_fraction") != 0.5 || s.Num(t, "tasks_in_flight") != 0 ||
			s.Num(t, "committed_load") != 0 || s.Num(t, "metrics_port") == 0 {
			t.Errorf("%s: %v", key, s)
		}
		reports := s.Num(t, "reports")
		hist, ok := s["load_history"].([]any)
		if !ok || reports < 1 || float64(len(hist)) != min(reports, 180) {
			t.Errorf("%s: %v reports, history %v", key, reports, s["load_history"])
		}
		done += s.Num(t, "tasks_done")
	}
	if done != 3 {
		t.Errorf("tasks_done adds up to %v, want 3", done)
	}

	tk := getAPI(t, base+"/api/tasks", 200)
	tk.CheckFields(t, "/api/tasks", tasksFields)
	if tk.Num(t, "limit") != 20 || tk.Num(t, "capacity") != 100 {
		t.Errorf("limit %v capacity %v", tk["limit"], tk["capacity"])
	}
	list := tk.Objects(t, "tasks")
	if len(list) != 3 {
		t.Fatalf("%d tasks listed, want 3", len(list))
	}
	for i, x := range list {
		x.CheckFields(t, "a task", taskFields)
		if id := x.Num(t, "task_id"); id != float64(3-i) {
			t.Errorf("task %d has id %v: want newest first", i, id)
		}
		if x.Str(t, "status") != "ok" || x.Str(t, "error") != "" || !strings.HasPrefix(x.Str(t, "slave"), "127.0.0.1:") {
			t.Errorf("task %v", x)
		}
		startedAt, finished := x.Time(t, "started_at"), x.Time(t, "finished_at")
		if finished.Before(startedAt) || x.Num(t, "duration_ms") <= 0 {
			t.Errorf("task %v: started %s, finished %s", x["task_id"], startedAt, finished)
		}
	}
	// Results are strings, even small ones; a huge one is cut and says so.
	fib90, fib1000, primes := list[2], list[1], list[0]
	if fib90.Str(t, "result") != "2880067194370816120" || fib90.Num(t, "result_length") != 19 || fib90["result_truncated"] != false {
		t.Errorf("F(90): %v", fib90)
	}
	full := tasks.Fibonacci(1000).String()
	if r := fib1000.Str(t, "result"); len(r) >= len(full) || !strings.HasPrefix(full, r) ||
		fib1000.Num(t, "result_length") != float64(len(full)) || fib1000["result_truncated"] != true {
		t.Errorf("F(1000): %v", fib1000)
	}
	if primes.Str(t, "result") != "25" || primes.Str(t, "task") != "primes" || primes.Num(t, "n") != 100 {
		t.Errorf("primes: %v", primes)
	}
}

// A task that never reached a slave is listed too, with its status and error.
func TestStatusFailedTask(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.QueueWait = 50 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	if status, _, _ := testutil.Get(t, base+"/primes?n=10", ""); status != 503 {
		t.Fatalf("status %d, want 503", status)
	}
	testutil.Get(t, base+"/primes?n=-1", "") // 400: no task, not listed
	list := getAPI(t, base+"/api/tasks", 200).Objects(t, "tasks")
	if len(list) != 1 {
		t.Fatalf("%d tasks, want 1", len(list))
	}
	x := list[0]
	if x.Str(t, "status") != "unavailable" || x.Str(t, "slave") != "" || x.Str(t, "result") != "" ||
		!strings.Contains(x.Str(t, "error"), "no slave has room") {
		t.Errorf("task %v", x)
	}
	st := getAPI(t, base+"/api/status", 200)
	if st.Num(t, "requests_in_window") != 2 || st.Num(t, "tasks_total") != 1 || st.Num(t, "slaves") != 0 {
		t.Errorf("status %v", st)
	}
	if sl := getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves"); len(sl) != 0 {
		t.Errorf("slaves %v, want an empty list", sl)
	}
}

func slaveStates(t *testing.T, base string) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for _, s := range getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves") {
		out[s.Str(t, "slave")] = s
	}
	return out
}

// Slaves join and leave between calls, and while other calls run: a lost
// slave is listed as lost, then drops off the list.
func TestStatusPoolChanges(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.LostSlaveTTL = time.Minute // the lost slave stays listed for every check below
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	disc := m.DiscoveryAddr().String()

	// Readers that run through every change below.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, path := range []string{"/api/slaves", "/api/status", "/api/slaves?history=3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, _, body, err := testutil.Fetch(base+path, "")
				if err != nil || status != 200 || !json.Valid([]byte(body)) {
					t.Errorf("GET %s: %v %d %s", path, err, status, body)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	a, aNode := testutil.StartSlave(t, testutil.SlaveOptions(t, disc))
	keyA := fmt.Sprintf("127.0.0.1:%d", a.ID())
	testutil.WaitFor(t, 10*time.Second, "slave A listed", func() bool {
		s, ok := slaveStates(t, base)[keyA]
		return ok && s.Str(t, "state") == "serving"
	})
	b, _ := testutil.StartSlave(t, testutil.SlaveOptions(t, disc))
	keyB := fmt.Sprintf("127.0.0.1:%d", b.ID())
	testutil.WaitFor(t, 10*time.Second, "slave B listed", func() bool {
		s, ok := slaveStates(t, base)[keyB]
		return ok && s.Str(t, "state") == "serving"
	})
	list := getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves")
	if len(list) != 2 || list[0].Str(t, "slave") != keyA || list[1].Str(t, "slave") != keyB {
		t.Fatalf("slaves %v, want A then B (join order)", list)
	}

	aNode.Stop()
	testutil.WaitFor(t, 5*time.Second, "slave A lost", func() bool {
		return slaveStates(t, base)[keyA].Str(t, "state") == "lost"
	})
	list = getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves")
	if len(list) != 2 || list[0].Str(t, "slave") != keyB || list[1].Str(t, "slave") != keyA {
		t.Fatalf("slaves %v, want B (serving) then A (lost)", list)
	}
	lost := list[1]
	if lost.Time(t, "lost_at").IsZero() || lost.Str(t, "lost_cause") != "drained" || lost.Time(t, "joined_at").IsZero() {
		t.Errorf("lost slave %v", lost)
	}
	st := getAPI(t, base+"/api/status", 200)
	if st.Num(t, "slaves") != 1 || st.Num(t, "slaves_lost") != 1 {
		t.Errorf("status: %v serving, %v lost", st["slaves"], st["slaves_lost"])
	}
}

// A lost slave leaves the list once LostSlaveTTL has passed, not before.
func TestStatusLostSlaveExpires(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.LostSlaveTTL = 300 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	a, aNode := testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	key := fmt.Sprintf("127.0.0.1:%d", a.ID())
	testutil.WaitFor(t, 10*time.Second, "the slave in the pool", func() bool { return m.Slaves() == 1 })
	stopped := time.Now() // the master can only lose it after this
	aNode.Stop()
	testutil.WaitFor(t, 10*time.Second, "the lost slave to leave the list", func() bool {
		_, listed := slaveStates(t, base)[key]
		return !listed && m.Slaves() == 0
	})
	if d := time.Since(stopped); d < o.LostSlaveTTL {
		t.Fatalf("the lost slave left the list %s after it stopped, before LostSlaveTTL %s", d, o.LostSlaveTTL)
	}
	if st := getAPI(t, base+"/api/status", 200); st.Num(t, "slaves_lost") != 0 {
		t.Errorf("slaves_lost %v after the TTL", st["slaves_lost"])
	}
}

func TestStatusQueryValidation(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.RecentTasks = 5
	o.LoadHistory = 4
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	for i := 0; i < 7; i++ {
		testutil.Get(t, fmt.Sprintf("%s/fibonacci?n=%d", base, i), "")
	}
	// Enough load reports to wrap the history ring.
	testutil.WaitFor(t, 10*time.Second, "6 load reports", func() bool {
		return getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves")[0].Num(t, "reports") >= 6
	})

	for _, tt := range []struct {
		query string
		want  int // tasks listed; -1: 400
	}{
		{"", 5}, {"?limit=1", 1}, {"?limit=3", 3}, {"?limit=5", 5}, {"?limit=6", 5},
		{"?limit=1000000", 5}, {"?limit=99999999999999999999999999", 5},
		{"?limit=0", -1}, {"?limit=-1", -1}, {"?limit=abc", -1}, {"?limit=1.5", -1}, {"?limit=", -1},
		{"?limit=%2B3", -1}, {"?limit=1&limit=2", -1}, {"?limit=0x10", -1},
	} {
		if tt.want < 0 {
			e := getAPI(t, base+"/api/tasks"+tt.query, 400)
			if msg := e.Str(t, "error"); !strings.HasPrefix(msg, "limit ") || strings.Contains(msg, "\n") {
				t.Errorf("%s: error %q", tt.query, msg)
			}
			continue
		}
		tk := getAPI(t, base+"/api/tasks"+tt.query, 200)
		list := tk.Objects(t, "tasks")
		if len(list) != tt.want || tk.Num(t, "limit") != float64(tt.want) {
			t.Errorf("%s: %d tasks, limit %v; want %d", tt.query, len(list), tk["limit"], tt.want)
		}
		if len(list) > 0 && list[0].Num(t, "task_id") != 7 {
			t.Errorf("%s: first task %v, want the newest (7)", tt.query, list[0]["task_id"])
		}
	}

	for _, tt := range []struct {
		query string
		want  int // history length; -1: 400
	}{
		{"", 4}, {"?history=0", 0}, {"?history=2", 2}, {"?history=4", 4}, {"?history=500", 4},
		{"?history=x", -1}, {"?history=-2", -1}, {"?history=1&history=1", -1},
	} {
		if tt.want < 0 {
			if e := getAPI(t, base+"/api/slaves"+tt.query, 400); !strings.HasPrefix(e.Str(t, "error"), "history ") {
				t.Errorf("%s: %v", tt.query, e)
			}
			continue
		}
		s := getAPI(t, base+"/api/slaves"+tt.query, 200).Objects(t, "slaves")[0]
		hist, ok := s["load_history"].([]any)
		if !ok || len(hist) != tt.want {
			t.Errorf("%s: history %v, want %d values", tt.query, s["load_history"], tt.want)
		}
	}

	e := getAPI(t, base+"/api/nothing", 404)
	if !strings.Contains(e.Str(t, "error"), "/api/status") {
		t.Errorf("unknown endpoint: %v", e)
	}
}

// The page and its assets: one HTML page whose script and style come from
// the master itself, under a policy that allows nothing else.
func TestStatusPageServed(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	base := "http://" + m.HTTPAddr().String()
	status, hdr, body := testutil.Get(t, base+"/", "")
	if status != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", status, hdr.Get("Content-Type"))
	}
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, want := range []string{`<option value="fibonacci" data-max-n="1000000">`, `<option value="primes" data-max-n="200000">`,
		`<label for="n">`, `aria-live="polite"`, `src="/static/app.js"`, `href="/static/style.css"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The SVG namespace name is an identifier, never fetched.
	if page := strings.ReplaceAll(body, "http://www.w3.org/2000/svg", ""); strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page refers to another site")
	}
	for path, ct := range map[string]string{"/static/app.js": "text/javascript; charset=utf-8", "/static/style.css": "text/css; charset=utf-8"} {
		status, hdr, body := testutil.Get(t, base+path, "")
		if status != 200 || hdr.Get("Content-Type") != ct || hdr.Get("ETag") == "" || len(body) < 1000 {
			t.Errorf("GET %s: %d %q %q, %d bytes", path, status, hdr.Get("Content-Type"), hdr.Get("ETag"), len(body))
		}
		if strings.Contains(strings.ReplaceAll(body, "http://www.w3.org/2000/svg", ""), "://") {
			t.Errorf("%s refers to another site", path)
		}
	}
	if status, _, _ := testutil.Get(t, base+"/static/index.html", ""); status != 404 {
		t.Errorf("GET /static/index.html: %d, want 404", status)
	}
}

// With 100 slaves, /api/slaves stays small and fast: the page fetches it
// every second (with ?history=10 once it has each slave's history).
func TestStatusHundredSlaves(t *testing.T) {
	if testing.Short() {
		t.Skip("100 slaves: skipped in -short mode")
	}
	const slaves = 100
	o := testutil.MasterOptions(t)
	o.MaxSlaves = slaves
	// Histories fill in a second without a storm of polls on a busy CI machine.
	o.PollInterval, o.LoadHistory = 50*time.Millisecond, 20
	o.Log = testutil.Logger(t, "master", "warning")
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	for i := 0; i < slaves; i++ {
		testutil.StartFakeSlave(t, m.DiscoveryAddr().String(), 100_000_000_000, testutil.FakeRefuse)
	}
	testutil.WaitFor(t, 30*time.Second, "100 slaves", func() bool { return m.Slaves() == slaves })
	testutil.WaitFor(t, 30*time.Second, "full load histories", func() bool {
		for _, s := range getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves") {
			if s.Num(t, "reports") < 20 {
				return false
			}
		}
		return true
	})
	for _, query := range []string{"", "?history=10"} {
		var took []time.Duration
		size := 0
		for i := 0; i < 20; i++ {
			start := time.Now()
			status, _, body := testutil.Get(t, base+"/api/slaves"+query, "")
			took = append(took, time.Since(start))
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			size = len(body)
		}
		slices.Sort(took)
		t.Logf("GET /api/slaves%s with %d slaves: %d bytes (%d per slave), median %s, max %s",
			query, slaves, size, size/slaves, took[len(took)/2].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
		if size > 256<<10 {
			t.Errorf("/api/slaves%s is %d bytes with %d slaves", query, size, slaves)
		}
	}
}

func TestStatusMethods(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	base := "http://" + m.HTTPAddr().String()
	for _, path := range []string{"/api/status", "/api/slaves", "/api/tasks", "/"} {
		req, err := http.NewRequest(http.MethodPost, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, resp.StatusCode)
		}
	}
}
