package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaultsOnVirtualSubnet puts a master (h1) and three slaves (h2..h4)
// under a bounded load from h5 and breaks things while it runs: a slave
// SIGKILLed, a rolling restart of every slave, a slave host cut off the
// network and back, the master restarted, and a UDP flood at the discovery
// port. Every accepted request must get the right answer: zero lost.
// E2E_FAULT_SECONDS sets each load's length (default 8; the figures
// were taken with 20).
func TestFaultsOnVirtualSubnet(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped in -short mode")
	}
	requireTools(t)
	load := 8 * time.Second
	if s := os.Getenv("E2E_FAULT_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("E2E_FAULT_SECONDS=%q: want a whole number of seconds, at least 2", s)
		}
		load = time.Duration(n) * time.Second
	}
	l := newLab(t, hosts)
	bin := buildBinaries(t)
	buildExtra(t, bin, "./testutil/loadcheck")
	c := &cluster{lab: l, client: l.host(clientHost), base: fmt.Sprintf("http://%s:4242", l.hostIP(masterHost))}
	startMaster := func() {
		c.master = startIn(t, l.host(masterHost), "master", filepath.Join(bin, "master"))
	}
	startSlave := func(h int) *slave {
		s := &slave{proc: startIn(t, l.host(h), fmt.Sprintf("slave on h%d", h), filepath.Join(bin, "slave"))}
		c.slaves = append(c.slaves, s)
		return s
	}
	startMaster()
	onHost := map[int]*slave{}
	for _, h := range []int{2, 3, 4} {
		onHost[h] = startSlave(h)
	}
	c.waitSlaves(t, 3, 15*time.Second)
	loadcheck := filepath.Join(bin, "loadcheck")

	t.Run("slave killed under load", func(t *testing.T) {
		run := startLoad(t, c.client, loadcheck, c.base, 32, load)
		time.Sleep(load / 4)
		onHost[4].kill(t)
		detect := c.waitSlaves(t, 2, 10*time.Second)
		run.mustLoseNothing(t)
		t.Logf("SIGKILL noticed after %s (links closed)", detect.Round(time.Millisecond))
		onHost[4] = startSlave(4)
		c.waitSlaves(t, 3, 15*time.Second)
	})

	t.Run("rolling restart under load", func(t *testing.T) {
		before, err := c.masterMetric("master_tasks_redispatched_total")
		if err != nil {
			t.Fatal(err)
		}
		run := startLoad(t, c.client, loadcheck, c.base, 32, 3*load)
		for _, h := range []int{2, 3, 4} {
			onHost[h].stop(t, 35*time.Second) // SIGTERM: the slave drains
			// It left drained, not taken for unresponsive while its result
			// link still delivered (the master waits for that link): none
			// of its tasks needs a re-dispatch.
			eventually(t, 10*time.Second, 50*time.Millisecond, fmt.Sprintf("the slave stopped on h%d listed as drained", h), func() (bool, string, error) {
				causes := c.lostCauses(t, l.hostIP(h).String())
				return slices.Contains(causes, "drained"), fmt.Sprintf("lost causes %q", causes), nil
			})
			onHost[h] = startSlave(h)
			c.waitSlaves(t, 3, 15*time.Second)
		}
		run.mustLoseNothing(t)
		if v, err := c.masterMetric("master_tasks_redispatched_total"); err != nil || v != before {
			t.Errorf("%v tasks re-dispatched during the rolling restart (%v); draining slaves should need none", v-before, err)
		}
	})

	t.Run("partition and return", func(t *testing.T) {
		before, err := c.masterMetric("master_tasks_redispatched_total")
		if err != nil {
			t.Fatal(err)
		}
		run := startLoad(t, c.client, loadcheck, c.base, 32, 2*load)
		time.Sleep(load / 4)
		l.mustIP(t, l.host(3), "link", "set", "eth0", "down")
		cut := time.Now()
		detect := c.waitSlaves(t, 2, 15*time.Second)
		time.Sleep(max(0, load-time.Since(cut)))
		l.mustIP(t, l.host(3), "link", "set", "eth0", "up")
		rejoin := c.waitSlaves(t, 3, 20*time.Second)
		run.mustLoseNothing(t)
		after, err := c.masterMetric("master_tasks_redispatched_total")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("host cut off: removed after %s, rejoined %s after its link came back; %v tasks re-dispatched",
			detect.Round(time.Millisecond), rejoin.Round(time.Millisecond), after-before)
		// 32 requests in flight over 3 slaves: the host cut off held some,
		// and only a re-dispatch can have answered them.
		if after <= before {
			t.Errorf("master_tasks_redispatched_total %v before the cut, %v after: the cut-off host's tasks were not re-dispatched", before, after)
		}
		r, err := c.get("/api/slaves")
		if err != nil || strings.Count(r.body, `"ip":"`+l.hostIP(3).String()+`"`) != 1 {
			t.Fatalf("after the partition the pool must hold host 3 once: %v\n%s", err, r.body)
		}
	})

	t.Run("master restart", func(t *testing.T) {
		c.master.stop(t, 10*time.Second)
		startMaster()
		rejoin := c.waitSlaves(t, 3, 20*time.Second)
		t.Logf("all 3 slaves rejoined the restarted master %s after it started", rejoin.Round(time.Millisecond))
		run := startLoad(t, c.client, loadcheck, c.base, 8, load/2)
		run.mustLoseNothing(t)
	})

	t.Run("UDP flood at the discovery port", func(t *testing.T) {
		run := startLoad(t, c.client, loadcheck, c.base, 16, load)
		out, err := runCmd("ip", "netns", "exec", c.client, loadcheck, "-flood", fmt.Sprintf("%s:3000", l.hostIP(masterHost)), "-count", "100000")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("flood: %s", strings.TrimSpace(out))
		run.mustLoseNothing(t)
		c.waitSlaves(t, 3, 5*time.Second)
		if v, err := c.masterMetric("master_slaves"); err != nil || v != 3 {
			t.Fatalf("after the flood: master_slaves %v, %v", v, err)
		}
	})
}

// lostCauses returns the lost_cause of every lost slave at ip that
// /api/slaves lists (for LostSlaveTTL after it left).
func (c *cluster) lostCauses(t *testing.T, ip string) []string {
	t.Helper()
	r, err := c.get("/api/slaves")
	var list struct {
		Slaves []struct {
			IP        string `json:"ip"`
			State     string `json:"state"`
			LostCause string `json:"lost_cause"`
		} `json:"slaves"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(r.body), &list)
	}
	if err != nil {
		t.Fatalf("GET /api/slaves: %v", err)
	}
	var causes []string
	for _, s := range list.Slaves {
		if s.IP == ip && s.State == "lost" {
			causes = append(causes, s.LostCause)
		}
	}
	return causes
}

// loadRun is a loadcheck process running in the client namespace.
type loadRun struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	errb bytes.Buffer
	done chan error
}

func startLoad(t *testing.T, ns, loadcheck, base string, inFlight int, d time.Duration) *loadRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+3*time.Minute)
	t.Cleanup(cancel)
	r := &loadRun{done: make(chan error, 1)}
	r.cmd = exec.CommandContext(ctx, "ip", "netns", "exec", ns, loadcheck, "-base", base,
		"-c", strconv.Itoa(inFlight), "-duration", d.String())
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errb
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting the load: %v", err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	return r
}

// mustLoseNothing waits for the load to end and fails the test unless every
// request got the right answer.
func (r *loadRun) mustLoseNothing(t *testing.T) {
	t.Helper()
	// loadcheck exits non-zero on any loss, after printing its summary.
	if err := <-r.done; err != nil && r.out.Len() == 0 {
		t.Fatalf("load: %v\n%s", err, r.errb.String())
	}
	var s struct {
		Sent, OK, Wrong int64
		Failed          map[string]int64
		Examples        []string
		Seconds         float64
	}
	if err := json.Unmarshal(r.out.Bytes(), &s); err != nil {
		t.Fatalf("load summary %q: %v", r.out.String(), err)
	}
	t.Logf("load: %d requests in %.1fs, %d right, %d wrong, failed %v", s.Sent, s.Seconds, s.OK, s.Wrong, s.Failed)
	if s.Sent == 0 || s.OK != s.Sent || s.Wrong != 0 || len(s.Failed) != 0 {
		t.Fatalf("requests lost or wrong: %+v", s)
	}
}
