// Package e2e runs the real master and slave binaries on a virtual subnet
// made of Linux network namespaces: a bridge namespace as the switch, the
// master on h1, slaves on h2..h4 (two on h2), and a client on h5. The slaves
// get no flags at all, so they must find the master by UDP broadcast.
//
// It needs root, iproute2 and curl. Without them it skips, unless CI=true,
// where it fails. `go test -short` skips it.
package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/runtimetune"
)

const (
	masterHost = 1
	clientHost = 5
	hosts      = 5

	// F(1000) has 209 digits; it starts with these.
	fib1000Prefix = "4346655768693745643568852767504062580256466051737178040248172908953655541794905189040387984007925516929592259308032263477520968962323987332247116164299644090653318793829896964992851600370447613779516684922887"
)

// cluster is the running system under test.
type cluster struct {
	lab    *lab
	client string // namespace of the client host
	base   string // the master's HTTP API, as the client reaches it
	master *proc
	slaves []*slave
}

// slave is a slave process and what it said about itself at start-up.
type slave struct {
	*proc
	key     string // "IP:ID", as the master names it
	metrics string // host:port of its /metrics
}

func TestClusterOnVirtualSubnet(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped in -short mode")
	}
	started := time.Now()
	requireTools(t)
	l := newLab(t, hosts)
	bin := buildBinaries(t)

	c := &cluster{
		lab:    l,
		client: l.host(clientHost),
		base:   fmt.Sprintf("http://%s:4242", l.hostIP(masterHost)),
	}
	c.master = startIn(t, l.host(masterHost), "master", filepath.Join(bin, "master"), "-log-level", "debug", "least_load")
	eventually(t, 10*time.Second, 50*time.Millisecond, "the master's /ok from the client host", func() (bool, string, error) {
		if err := c.master.unexpectedExit(); err != nil {
			return false, "", err
		}
		r, err := c.get("/ok")
		if err != nil {
			return false, err.Error(), nil
		}
		return r.status == 200 && r.body == "ok\n", fmt.Sprintf("%d %q", r.status, r.body), nil
	})

	joinStart := time.Now()
	for _, h := range []int{2, 2, 3, 4} {
		p := startIn(t, l.host(h), fmt.Sprintf("slave %d on h%d", len(c.slaves)+1, h), filepath.Join(bin, "slave"))
		c.slaves = append(c.slaves, &slave{proc: p})
	}
	c.waitSlaves(t, 4, 15*time.Second)
	t.Logf("all 4 slaves joined by broadcast %s after the first was started", time.Since(joinStart).Round(time.Millisecond))
	c.identifySlaves(t)

	t.Run("results", c.testResults)
	t.Run("bad input", c.testBadInput)
	t.Run("spread across slaves", c.testSpread)
	t.Run("cores shared", c.testCoresShared)
	t.Run("runtime tuned", c.testRuntimeTuned)
	t.Run("slave death", c.testSlaveDeath)

	t.Logf("test body took %s (teardown follows)", time.Since(started).Round(time.Millisecond))
}

// buildBinaries builds master and slave from the module root into a
// temporary directory and returns it.
func buildBinaries(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/master", "./cmd/slave")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	t.Logf("built master and slave in %s", time.Since(start).Round(time.Millisecond))
	return dir
}

func (c *cluster) get(path string, headers ...string) (response, error) {
	return httpGet(c.client, c.base+path, headers...)
}

// alive returns an error if a daemon the test did not end has exited.
func (c *cluster) alive() error {
	if err := c.master.unexpectedExit(); err != nil {
		return err
	}
	for _, s := range c.slaves {
		if err := s.unexpectedExit(); err != nil {
			return err
		}
	}
	return nil
}

// masterMetric reads one unlabelled sample from the master's /metrics.
func (c *cluster) masterMetric(name string) (float64, error) {
	r, err := c.get("/metrics")
	if err != nil {
		return 0, err
	}
	if r.status != 200 {
		return 0, fmt.Errorf("/metrics: status %d", r.status)
	}
	v, ok := metricValue(r.body, name)
	if !ok {
		return 0, fmt.Errorf("/metrics has no sample %s", name)
	}
	return v, nil
}

// waitSlaves polls the master's metrics until master_slaves is n.
func (c *cluster) waitSlaves(t *testing.T, n int, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, timeout, 50*time.Millisecond, fmt.Sprintf("master_slaves %d", n), func() (bool, string, error) {
		if err := c.alive(); err != nil {
			return false, "", err
		}
		v, err := c.masterMetric("master_slaves")
		if err != nil {
			return false, err.Error(), nil
		}
		return v == float64(n), fmt.Sprintf("master_slaves %v", v), nil
	})
}

var slaveRunning = regexp.MustCompile(`msg="slave running" id="(\d+)" iface="([^"]*)" ip="([^"]+)" looking_for="([^"]+)" metrics="([^"]+)"`)

// identifySlaves learns each slave's key and metrics address from its start-up
// line, checks it looked for the master on the subnet's broadcast address, and
// checks the master logged its join.
func (c *cluster) identifySlaves(t *testing.T) {
	t.Helper()
	bcast := netip.AddrPortFrom(lastAddr(c.lab.subnet), 3000).String()
	masterLog := c.master.out.String()
	for _, s := range c.slaves {
		m := slaveRunning.FindStringSubmatch(s.out.String())
		if m == nil {
			t.Fatalf("%s: no start-up line matching %s in its output:\n%s", s.name, slaveRunning, s.out)
		}
		id, iface, ip, target := m[1], m[2], m[3], m[4]
		s.key, s.metrics = ip+":"+id, m[5]
		if iface != "eth0" || target != bcast {
			t.Errorf("%s: chose iface %q and looked for the master at %s; want eth0 and %s", s.name, iface, target, bcast)
		}
		if !strings.Contains(masterLog, fmt.Sprintf(`msg="slave joined" slave=%q`, s.key)) {
			t.Errorf("the master's log has no join of %s (%s)", s.key, s.name)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}

// taskAnswer is the master's JSON answer.
type taskAnswer struct {
	Task       string  `json:"task"`
	N          uint64  `json:"n"`
	Result     string  `json:"result"`
	TaskID     uint64  `json:"task_id"`
	Slave      string  `json:"slave"`
	DurationMS float64 `json:"duration_ms"`
}

// getJSON asks for path as JSON and decodes a 200 answer.
func (c *cluster) getJSON(path string) (taskAnswer, error) {
	r, err := c.get(path, "Accept: application/json")
	if err != nil {
		return taskAnswer{}, err
	}
	if r.status != 200 {
		return taskAnswer{}, fmt.Errorf("GET %s (JSON): status %d, body %q", path, r.status, r.body)
	}
	var a taskAnswer
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		return taskAnswer{}, fmt.Errorf("GET %s (JSON): %v in body %q", path, err, r.body)
	}
	return a, nil
}

func (c *cluster) testResults(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/fibonacci?n=90", "2880067194370816120\n"},
		{"/fibonacci?n=0", "0\n"},
		{"/fibonacci?n=1", "1\n"},
		{"/primes?n=100000", "9592\n"},
	} {
		r, err := c.get(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.body != tc.want {
			t.Errorf("GET %s: %d %q; want 200 %q", tc.path, r.status, r.body, tc.want)
		}
	}

	r, err := c.get("/fibonacci?n=1000")
	if err != nil {
		t.Fatal(err)
	}
	digits := strings.TrimSuffix(r.body, "\n")
	if r.status != 200 || len(digits) != 209 || !strings.HasPrefix(digits, fib1000Prefix) || digits+"\n" != r.body {
		t.Errorf("GET /fibonacci?n=1000: %d, %d digits %q; want 200 and F(1000): 209 digits, starting %s…, one trailing newline",
			r.status, len(digits), r.body, fib1000Prefix[:20])
	}

	a, err := c.getJSON("/fibonacci?n=90")
	if err != nil {
		t.Fatal(err)
	}
	if a.Task != "fibonacci" || a.N != 90 || a.Result != "2880067194370816120" {
		t.Errorf("JSON answer %+v; want task fibonacci, n 90, result \"2880067194370816120\"", a)
	}
	if ap, err := netip.ParseAddrPort(a.Slave); err != nil || !c.lab.subnet.Contains(ap.Addr()) {
		t.Errorf("JSON answer names slave %q; want IP:ID with the IP in %s", a.Slave, c.lab.subnet)
	}
}

func (c *cluster) testBadInput(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/fibonacci?n=-1", 400},
		{"/fibonacci?n=abc", 400},
		{"/fibonacci", 400},
		{"/fibonacci?n=99999999999", 400},
		{"/fibonacci?n=1&n=2", 400},
		{"/primes?n=200001", 400},
		{"/nosuchtask?n=1", 404},
	} {
		r, err := c.get(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(r.body, "\n")
		if r.status != tc.status || line == "" || strings.Contains(line, "\n") || line+"\n" != r.body {
			t.Errorf("GET %s: %d %q; want %d with a one-line message", tc.path, r.status, r.body, tc.status)
		} else {
			t.Logf("GET %s: %d %s", tc.path, r.status, line)
		}
	}
}

// testSpread sends requests one after another to the idle pool and checks
// that least_load's tie rotation shares them out evenly: every slave is at
// load 0 between two requests (the master frees a task's load before it
// answers), so each request goes to the next slave after the last one
// chosen, and 2 rounds give every slave exactly 2. No overlap is needed, so
// a busy machine cannot make it pass or fail by timing.
func (c *cluster) testSpread(t *testing.T) {
	rounds := 2
	bySlave := map[string]int{}
	for range rounds * len(c.slaves) {
		r, err := c.get("/fibonacci?n=30", "Accept: application/json")
		var a taskAnswer
		if err == nil {
			err = json.Unmarshal([]byte(r.body), &a)
		}
		if err != nil || r.status != 200 || a.Result != "832040" {
			t.Fatalf("GET /fibonacci?n=30 (JSON): %d %q, %v; want 832040", r.status, r.body, err)
		}
		bySlave[a.Slave]++
	}
	t.Logf("%d requests in a row answered by slave: %v", rounds*len(c.slaves), bySlave)
	if len(bySlave) != len(c.slaves) {
		t.Errorf("requests in a row went to %d slaves (%v), want all %d in turn", len(bySlave), bySlave, len(c.slaves))
	}
	for s, n := range bySlave {
		if n != rounds {
			t.Errorf("slave %s answered %d of the requests in a row, want %d (%v)", s, n, rounds, bySlave)
		}
	}
}

// testCoresShared checks that the four slaves, on three virtual hosts but
// one machine, split its cores between their Go runtimes instead of each
// sizing itself to all of them. (On a 1-core machine both give 1.)
func (c *cluster) testCoresShared(t *testing.T) {
	share := max(1, (runtime.NumCPU()+len(c.slaves)-1)/len(c.slaves))
	for _, s := range c.slaves {
		eventually(t, 5*time.Second, 100*time.Millisecond, s.name+"'s GOMAXPROCS", func() (bool, string, error) {
			r, err := httpGet(c.client, "http://"+s.metrics+"/metrics")
			if err != nil {
				return false, err.Error(), nil
			}
			v, ok := metricValue(r.body, "go_sched_gomaxprocs_threads")
			if !ok {
				return false, "", fmt.Errorf("%s's /metrics has no go_sched_gomaxprocs_threads", s.name)
			}
			return v >= 1 && v <= float64(share), fmt.Sprintf("%v, want 1 to %d (%d cores, %d slaves)", v, share, runtime.NumCPU(), len(c.slaves)), nil
		})
	}
	if !strings.Contains(c.slaves[0].out.String(), `msg="cores shared"`) {
		t.Errorf("%s logged no \"cores shared\" line:\n%s", c.slaves[0].name, c.slaves[0].out)
	}
}

// testRuntimeTuned checks that master and slaves re-executed themselves
// under runtimetune's GODEBUG, keeping their PIDs.
func (c *cluster) testRuntimeTuned(t *testing.T) {
	procs := []*proc{c.master}
	for _, s := range c.slaves {
		procs = append(procs, s.proc)
	}
	for _, p := range procs {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.cmd.Process.Pid))
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		godebug := ""
		for _, kv := range strings.Split(string(environ), "\x00") {
			if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
				godebug = v
				break
			}
		}
		if !slices.Contains(strings.Split(godebug, ","), runtimetune.Setting) {
			t.Errorf("%s runs with GODEBUG=%q, want %s in it", p.name, godebug, runtimetune.Setting)
		}
	}
}

var assignedPrimes = regexp.MustCompile(`msg="assigned task" task_id="\d+" task="primes n=150000" slave="([^"]+)"`)

// testSlaveDeath kills a slave while it computes a slow task and checks that
// every request still gets the right answer and the pool shrinks.
func (c *cluster) testSlaveDeath(t *testing.T) {
	const (
		requests = 4
		want     = "13848\n" // π(150000)
	)
	before, err := c.masterMetric("master_tasks_redispatched_total")
	if err != nil {
		t.Fatal(err)
	}
	logStart := len(c.master.out.String())
	type result struct {
		r   response
		err error
	}
	results := make(chan result, requests)
	for range requests {
		go func() {
			r, err := c.get("/primes?n=150000")
			results <- result{r, err}
		}()
	}

	// Wait until the master has placed all four, then pick a slave that got
	// one and wait until it is actually computing it.
	var assigned []string
	eventually(t, 10*time.Second, 20*time.Millisecond, "4 primes tasks assigned", func() (bool, string, error) {
		assigned = nil
		for _, m := range assignedPrimes.FindAllStringSubmatch(c.master.out.String()[logStart:], -1) {
			assigned = append(assigned, m[1])
		}
		return len(assigned) >= requests, fmt.Sprintf("assigned to %v", assigned), nil
	})
	var victim *slave
	for _, s := range c.slaves {
		if s.key == assigned[0] {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("task assigned to %s, which is none of the slaves started", assigned[0])
	}
	eventually(t, 5*time.Second, 20*time.Millisecond, victim.name+" computing", func() (bool, string, error) {
		r, err := httpGet(c.client, "http://"+victim.metrics+"/metrics")
		if err != nil {
			return false, err.Error(), nil
		}
		v, _ := metricValue(r.body, "slave_committed_load")
		return v > 0, fmt.Sprintf("slave_committed_load %v", v), nil
	})
	killed := time.Now()
	victim.kill(t)
	t.Logf("SIGKILLed %s (%s, pid %d) while it computed primes n=150000; tasks were on %v",
		victim.name, victim.key, victim.cmd.Process.Pid, assigned)

	for range requests {
		r := <-results
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		if r.r.status != 200 || r.r.body != want {
			t.Errorf("GET /primes?n=150000 after a slave's death: %d %q; want 200 %q", r.r.status, r.r.body, want)
		}
	}
	t.Logf("all %d answers in %s after the kill", requests, time.Since(killed).Round(time.Millisecond))

	left := c.waitSlaves(t, 3, 10*time.Second)
	t.Logf("master_slaves 3 within %s of the answers", left.Round(time.Millisecond))
	after, err := c.masterMetric("master_tasks_redispatched_total")
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("master_tasks_redispatched_total went from %v to %v; want the killed slave's task re-dispatched", before, after)
	}
	if err := c.alive(); err != nil {
		t.Error(err)
	}
}
