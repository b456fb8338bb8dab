package master_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lbproject/loadbalancer/common/tasks"
	master "github.com/lbproject/loadbalancer/master_src"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/apijson"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cluster starts a master and n slaves that join it by unicast, and waits
// until all are in the pool.
func cluster(t *testing.T, algo string, n int) (*master.Master, string, []*testutil.Node) {
	t.Helper()
	o := testutil.MasterOptions(t)
	o.Algorithm = algo
	m, _ := testutil.StartMaster(t, o)
	var nodes []*testutil.Node
	for i := 0; i < n; i++ {
		_, node := testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
		nodes = append(nodes, node)
	}
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d slaves to join", n), func() bool { return m.Slaves() == n })
	return m, "http://" + m.HTTPAddr().String(), nodes
}

func TestClusterAnswers(t *testing.T) {
	_, base, _ := cluster(t, "least_load", 3)
	tests := []struct {
		path   string
		status int
		body   string // exact body, or a prefix when it ends with "..."
	}{
		{"/fibonacci?n=0", 200, "0\n"},
		{"/fibonacci?n=1", 200, "1\n"},
		{"/fibonacci?n=2", 200, "1\n"},
		{"/fibonacci?n=90", 200, "2880067194370816120\n"},
		{"/fibonacci?n=1000", 200, tasks.Fibonacci(1000).String() + "\n"},
		{"/primes?n=0", 200, "0\n"},
		{"/primes?n=20000", 200, "2262\n"},
		{"/fibonacci", 400, "missing n: use /fibonacci?n=N; n must be a whole number from 0 to 1000000\n"},
		{"/fibonacci?n=-1", 400, "n must be a whole number from 0 to 1000000, got \"-1\"\n"},
		{"/fibonacci?n=abc", 400, "n must be a whole number from 0 to 1000000, got \"abc\"\n"},
		{"/fibonacci?n=1000001", 400, "n must be a whole number from 0 to 1000000, got \"1000001\"\n"},
		{"/fibonacci?n=1&n=2", 400, "n given 2 times..."},
		{"/primes?n=200001", 400, "n must be a whole number from 0 to 200000, got \"200001\"\n"},
		{"/primes?n=18446744073709551616", 400, "n must be a whole number from 0 to 200000..."},
		{"/sqrt?n=4", 404, "unknown task \"sqrt\": tasks are fibonacci, primes\n"},
		{"/ok", 200, "ok\n"},
		{"/", 200, "<!doctype html>..."},
	}
	for _, tt := range tests {
		status, _, body := testutil.Get(t, base+tt.path, "")
		if status != tt.status {
			t.Errorf("GET %s: status %d, want %d (body %q)", tt.path, status, tt.status, body)
		}
		if prefix, ok := strings.CutSuffix(tt.body, "..."); ok {
			if !strings.HasPrefix(body, prefix) {
				t.Errorf("GET %s: body %q, want prefix %q", tt.path, body, prefix)
			}
		} else if body != tt.body {
			t.Errorf("GET %s: body %q, want %q", tt.path, body, tt.body)
		}
	}
}

func TestClusterJSON(t *testing.T) {
	_, base, _ := cluster(t, "round_robin", 2)
	status, hdr, body := testutil.Get(t, base+"/fibonacci?n=90", "text/html, application/json;q=0.9")
	if status != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", status, hdr.Get("Content-Type"))
	}
	var got struct {
		Task       string  `json:"task"`
		N          uint64  `json:"n"`
		Result     string  `json:"result"`
		TaskID     uint64  `json:"task_id"`
		Slave      string  `json:"slave"`
		DurationMS float64 `json:"duration_ms"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if got.Task != "fibonacci" || got.N != 90 || got.Result != "2880067194370816120" || got.TaskID == 0 ||
		!strings.HasPrefix(got.Slave, "127.0.0.1:") || got.DurationMS <= 0 {
		t.Errorf("unexpected answer %+v", got)
	}
	status, _, body = testutil.Get(t, base+"/fibonacci?n=x", "application/json")
	if status != 400 || !strings.HasPrefix(body, `{"error":"n must be a whole number`) {
		t.Errorf("JSON error: %d %s", status, body)
	}
}

// Concurrent requests under round robin spread evenly over the slaves. The
// slaves have no worker limit, so every one always has a free worker and
// the cycle alone decides (with limits, a slave whose workers are all taken
// is passed over while another has one free).
func TestClusterSpreadsConcurrentRequests(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "round_robin"
	m, _ := testutil.StartMaster(t, o)
	for range 3 {
		so := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
		so.Workers = 0
		testutil.StartSlave(t, so)
	}
	testutil.WaitFor(t, 10*time.Second, "3 slaves to join", func() bool { return m.Slaves() == 3 })
	base := "http://" + m.HTTPAddr().String()
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, body, err := testutil.Fetch(base+"/fibonacci?n=30", "application/json")
			var a struct{ Result, Slave string }
			if err != nil || status != 200 || json.Unmarshal([]byte(body), &a) != nil || a.Result != "832040" {
				t.Errorf("request: %v %d %s", err, status, body)
				return
			}
			mu.Lock()
			count[a.Slave]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(count) != 3 {
		t.Fatalf("answers came from %d slaves, want 3: %v", len(count), count)
	}
	for s, n := range count {
		if n != 10 {
			t.Errorf("slave %s took %d of 30 tasks, want 10 (round robin): %v", s, n, count)
		}
	}
}

// A slave killed while running a task (SIGKILL: no drain, its links closed
// by the kernel): the master sends the task to another slave, counts the
// re-dispatch, and the client still gets the right answer.
func TestSlaveLostMidTask(t *testing.T) {
	bin := testutil.BuildCommand(t, "slave")
	o := testutil.MasterOptions(t)
	o.Algorithm = "first_available"
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	victim := testutil.StartProcess(t, bin, "-iface", "lo", "-master", m.DiscoveryAddr().String(),
		"-metrics-addr", "127.0.0.1:0", "-sd-dir", "", "-procs", "1")
	testutil.WaitFor(t, 30*time.Second, "the slave process", func() bool { return m.Slaves() == 1 })
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "second slave", func() bool { return m.Slaves() == 2 })

	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		status, _, body, err := testutil.Fetch(base+"/primes?n=150000", "application/json")
		got <- answer{status, body, err}
	}()
	// first_available puts the task on the first slave to join: the process.
	testutil.WaitFor(t, 10*time.Second, "the task on the slave process", func() bool {
		_, _, body := testutil.Get(t, base+"/api/slaves", "")
		slaves := apijson.Decode(t, body).Objects(t, "slaves")
		return len(slaves) > 0 && slaves[0].Num(t, "tasks_in_flight") == 1
	})
	_, _, body := testutil.Get(t, base+"/api/slaves", "")
	victimKey := apijson.Decode(t, body).Objects(t, "slaves")[0].Str(t, "slave")
	victim.Kill()
	a := <-got
	if a.err != nil || a.status != 200 || !strings.Contains(a.body, `"result":"13848"`) || strings.Contains(a.body, victimKey) {
		t.Fatalf("after killing the slave: %v %d %s, want 200 with 13848 from the other slave", a.err, a.status, a.body)
	}
	if n := metricValue(t, base, "master_tasks_redispatched_total"); n != 1 {
		t.Fatalf("master_tasks_redispatched_total %v, want 1", n)
	}
	testutil.WaitFor(t, 5*time.Second, "the killed slave to leave the pool", func() bool { return m.Slaves() == 1 })
}

// A refusal sends the task on to another slave.
func TestRefusedTaskGoesElsewhere(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "first_available"
	m, _ := testutil.StartMaster(t, o)
	testutil.StartFakeSlave(t, m.DiscoveryAddr().String(), 1<<62, testutil.FakeRefuse)
	testutil.WaitFor(t, 10*time.Second, "fake slave", func() bool { return m.Slaves() == 1 })
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "real slave", func() bool { return m.Slaves() == 2 })
	for i := 0; i < 5; i++ {
		status, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/fibonacci?n=90", "")
		if status != 200 || body != "2880067194370816120\n" {
			t.Fatalf("status %d body %q", status, body)
		}
	}
	// first_available tried the refusing slave, the first to join, first
	// every time: each refusal is counted on it, each result on the other.
	_, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/api/slaves", "")
	slaves := apijson.Decode(t, body).Objects(t, "slaves")
	if len(slaves) != 2 || slaves[0].Num(t, "tasks_refused") != 5 || slaves[1].Num(t, "tasks_refused") != 0 || slaves[1].Num(t, "tasks_done") != 5 {
		t.Fatalf("/api/slaves %s: want the first with tasks_refused 5, the second with 0 refused and 5 done", body)
	}
}

// A task that kills every slave it touches is given up after MaxAttempts
// slaves, with a 502, rather than looping.
func TestTaskThatKillsSlavesIsGivenUp(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.MaxAttempts = 2
	m, _ := testutil.StartMaster(t, o)
	for i := 0; i < 3; i++ {
		testutil.StartFakeSlave(t, m.DiscoveryAddr().String(), 1<<62, testutil.FakeDie)
	}
	testutil.WaitFor(t, 10*time.Second, "fake slaves", func() bool { return m.Slaves() == 3 })
	status, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/fibonacci?n=5", "")
	if status != http.StatusBadGateway || !strings.Contains(body, "2 slaves were lost") {
		t.Fatalf("status %d body %q, want 502 after 2 lost slaves", status, body)
	}
	testutil.WaitFor(t, 5*time.Second, "dead slaves to leave", func() bool { return m.Slaves() == 1 })
}

func TestNoSlaveGives503(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.QueueWait = 100 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	start := time.Now()
	status, hdr, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/fibonacci?n=5", "")
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.HasPrefix(body, "no slave has joined this master yet") {
		t.Fatalf("status %d, Retry-After %q, body %q", status, hdr.Get("Retry-After"), body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("503 took %s", d)
	}
}

func TestSlowTaskGives504(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.TaskTimeout = 200 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	status, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/primes?n=200000", "")
	if status != 504 || !strings.Contains(body, "no result in time") {
		t.Fatalf("status %d body %q, want 504", status, body)
	}
}

// A slave whose master goes away looks for a master again and joins the
// next one on the same address.
func TestSlaveRejoinsRestartedMaster(t *testing.T) {
	o := testutil.MasterOptions(t)
	m1, node1 := testutil.StartMaster(t, o)
	discovery := m1.DiscoveryAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, discovery))
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m1.Slaves() == 1 })
	node1.Stop()

	o.DiscoveryAddr = discovery
	m2, _ := testutil.StartMaster(t, o)
	testutil.WaitFor(t, 10*time.Second, "slave to rejoin", func() bool { return m2.Slaves() == 1 })
	status, _, body := testutil.Get(t, "http://"+m2.HTTPAddr().String()+"/fibonacci?n=10", "")
	if status != 200 || body != "55\n" {
		t.Fatalf("status %d body %q", status, body)
	}
}

// Slaves find a master by broadcast on loopback, as `-iface lo` does.
func TestBroadcastDiscoveryOnLoopback(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Iface = "lo"
	o.DiscoveryAddr = "0.0.0.0:0"
	m, _ := testutil.StartMaster(t, o)
	port := m.DiscoveryAddr().(*net.UDPAddr).Port
	for i := 0; i < 2; i++ {
		so := testutil.SlaveOptions(t, "")
		so.DiscoveryPort = port
		testutil.StartSlave(t, so)
	}
	testutil.WaitFor(t, 10*time.Second, "slaves to join by broadcast", func() bool { return m.Slaves() == 2 })
}

// A slave lost under a task leaves the pool before the task is retried, so
// the retry cannot land on the dead slave again: five slaves that die on
// their first task, then a healthy one, and every request still succeeds.
func TestRetryNeverPicksTheLostSlave(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "first_available"
	o.MaxAttempts = 6
	m, _ := testutil.StartMaster(t, o)
	for i := 1; i <= 5; i++ {
		testutil.StartFakeSlave(t, m.DiscoveryAddr().String(), 1<<62, testutil.FakeDie)
		testutil.WaitFor(t, 10*time.Second, "fake slave", func() bool { return m.Slaves() == i })
	}
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "real slave", func() bool { return m.Slaves() == 6 })
	status, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/fibonacci?n=90", "")
	if status != 200 || body != "2880067194370816120\n" {
		t.Fatalf("status %d body %q: the retries did not reach the healthy slave", status, body)
	}
	if n := m.Slaves(); n != 1 {
		t.Fatalf("%d slaves left, want only the healthy one", n)
	}
}

// A stopping slave drains: the task it holds finishes there (no
// re-dispatch), and new tasks go elsewhere meanwhile.
func TestDrainingSlaveFinishesItsTask(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "first_available"
	m, _ := testutil.StartMaster(t, o)
	first, firstNode := testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "first slave", func() bool { return m.Slaves() == 1 })
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "second slave", func() bool { return m.Slaves() == 2 })
	base := "http://" + m.HTTPAddr().String()

	type answer struct {
		status int
		body   string
		err    error
	}
	long := make(chan answer, 1)
	go func() {
		status, _, body, err := testutil.Fetch(base+"/primes?n=100000", "")
		long <- answer{status, body, err}
	}()
	testutil.WaitFor(t, 10*time.Second, "the long task on the first slave", func() bool {
		_, running := first.Load()
		return running == 1
	})
	stopped := make(chan struct{})
	go func() {
		firstNode.Stop() // what SIGTERM does
		close(stopped)
	}()
	// While it drains, new tasks go to the second slave.
	testutil.WaitFor(t, 10*time.Second, "the first slave to be draining", func() bool {
		_, _, body, err := testutil.Fetch(base+"/api/slaves", "")
		return err == nil && strings.Contains(body, `"state":"draining"`)
	})
	status, _, body, err := testutil.Fetch(base+"/fibonacci?n=20", "application/json")
	if err != nil || status != 200 || !strings.Contains(body, `"result":"6765"`) || strings.Contains(body, `"slave":"`+first.Key()) {
		t.Fatalf("a task during the drain: %v %d %s", err, status, body)
	}
	a := <-long
	if a.err != nil || a.status != 200 || a.body != "9592\n" {
		t.Fatalf("the drained task: %v %d %q", a.err, a.status, a.body)
	}
	<-stopped
	if n := metricValue(t, base, "master_tasks_redispatched_total"); n != 0 {
		t.Fatalf("%v tasks re-dispatched; a drain must not need any", n)
	}
	testutil.WaitFor(t, 10*time.Second, "the drained slave to leave", func() bool { return m.Slaves() == 1 })
}

func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	v, ok := metric(t, base, name)
	if !ok {
		t.Fatalf("metric %s not found", name)
	}
	return v
}

// metric reads one sample of the master's metrics; a labelled counter is
// absent until it first counts.
func metric(t *testing.T, base, name string) (float64, bool) {
	t.Helper()
	_, _, body := testutil.Get(t, base+"/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}
