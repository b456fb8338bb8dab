package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// This file holds what the user-task and placement tests share: a curl that
// also reports Retry-After and can POST, the pool as /api/slaves shows it,
// and the processes living in a namespace.

// answer is an HTTP answer with the one header the tests look at.
type answer struct {
	status     int
	body       string
	retryAfter string
}

// curlSepFull separates the body from the status and Retry-After curl writes after it.
const curlSepFull = "\n@@e2e-answer@@"

// curlIn runs curl in namespace ns with extra arguments (headers, --data-binary,
// --max-time) before url. The whole run is bounded.
func curlIn(ns, url string, extra ...string) (answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	args := []string{"netns", "exec", ns, "curl", "-sS", "--noproxy", "*", "--max-time", "70",
		"-w", curlSepFull + "%{http_code} %header{retry-after}"}
	args = append(append(args, extra...), url)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return answer{}, fmt.Errorf("curl %v %s in %s: %w: %s", extra, url, ns, err, bytes.TrimSpace(stderr.Bytes()))
	}
	out := stdout.String()
	i := strings.LastIndex(out, curlSepFull)
	if i < 0 {
		return answer{}, fmt.Errorf("curl %s: no status in output %q", url, out)
	}
	code, retry, _ := strings.Cut(out[i+len(curlSepFull):], " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		return answer{}, fmt.Errorf("curl %s: bad status in output %q", url, out)
	}
	return answer{status: status, body: out[:i], retryAfter: strings.TrimSpace(retry)}, nil
}

// poolSlave is one slave as /api/slaves shows it (the fields the tests read).
type poolSlave struct {
	Slave          string   `json:"slave"`
	IP             string   `json:"ip"`
	State          string   `json:"state"`
	CommittedLoad  uint64   `json:"committed_load"`
	TasksInFlight  int      `json:"tasks_in_flight"`
	TasksDone      uint64   `json:"tasks_done"`
	TasksCancelled uint64   `json:"tasks_cancelled"`
	TasksHedged    uint64   `json:"tasks_hedged"`
	Ejections      int      `json:"ejections"`
	Tasks          []string `json:"tasks"`
}

// pool reads /api/slaves from the client host.
func (c *cluster) pool() ([]poolSlave, error) {
	r, err := c.get("/api/slaves?history=0")
	if err != nil {
		return nil, err
	}
	if r.status != 200 {
		return nil, fmt.Errorf("/api/slaves: status %d: %s", r.status, r.body)
	}
	var v struct {
		Slaves []poolSlave `json:"slaves"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		return nil, fmt.Errorf("/api/slaves: %w in %s", err, r.body)
	}
	return v.Slaves, nil
}

// commandsIn returns the command name (/proc/PID/comm) of every process in
// namespace ns, by pid.
func commandsIn(ns string) (map[int]string, error) {
	out, err := runCmd("ip", "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	procs := map[int]string{}
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("ip netns pids %s: %q is not a pid", ns, f)
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue // it ended between the listing and the read
		}
		procs[pid] = strings.TrimSpace(string(comm))
	}
	return procs, nil
}

// running returns the pids in ns whose command is name.
func running(ns, name string) ([]int, error) {
	procs, err := commandsIn(ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for pid, comm := range procs {
		if comm == name {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
