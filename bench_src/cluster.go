package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClusterOptions describes a master and its slaves started by the lab, all
// on loopback.
type ClusterOptions struct {
	MasterBin, SlaveBin string
	Algorithm           string
	Slaves              []SlaveSpec
	// MasterArgs and SlaveArgs are extra flags for every master and slave
	// (checked by CheckExtraArgs).
	MasterArgs, SlaveArgs []string
	// LogDir receives one log file per process; LogLevel is their
	// -log-level.
	LogDir   string
	LogLevel string
	// JoinTimeout bounds the start: master up and every slave in its pool.
	JoinTimeout time.Duration
	// StopTimeout is how long a process has after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// Cluster is a running master with its slaves.
type Cluster struct {
	// URL is the master's HTTP API, http://127.0.0.1:PORT.
	URL string
	// Labels names each slave key (host:id, as in task answers) after its
	// place in the -slaves list: s1, s2, ...
	Labels map[string]string

	master *process
	slaves []*process
	quotas *cpuQuotas // nil unless a slave has a cpu= quota
	stop   sync.Once
}

// startAttempts bounds the retries of a start that lost a port to another
// program between the lab picking it and the daemon binding it.
const startAttempts = 3

// StartCluster starts a master and its slaves on loopback and waits until
// every slave is in the master's pool. On error nothing it started is left
// running.
func StartCluster(ctx context.Context, o ClusterOptions, client *http.Client) (*Cluster, error) {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var c *Cluster
		c, err = startCluster(ctx, o, client, attempt)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

var errPortTaken = errors.New("a port was taken")

func startCluster(ctx context.Context, o ClusterOptions, client *http.Client, attempt int) (c *Cluster, err error) {
	// The master's two ports are picked here and bound by the master a
	// moment later: a binary cannot be handed a listener. A program that
	// takes one meanwhile makes the master exit, and StartCluster retries.
	// The slaves bind port 0, so they race with nothing.
	tcp, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	udp, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp))
	c = &Cluster{URL: "http://" + httpAddr, Labels: map[string]string{}}
	defer func() {
		if err != nil {
			_ = c.Stop(o.StopTimeout)
		}
	}()
	prefix := filepath.Join(o.LogDir, fmt.Sprintf("%s-%d-", o.Algorithm, attempt))
	margs := []string{"-iface", "lo", "-http", httpAddr, "-discovery", ":" + strconv.Itoa(udp), "-log-level", o.LogLevel}
	margs = append(append(margs, o.MasterArgs...), o.Algorithm)
	if c.master, err = startProcess("master "+o.Algorithm, o.MasterBin, margs, prefix+"master.log"); err != nil {
		return c, err
	}
	deadline := time.Now().Add(o.JoinTimeout)
	if err = c.await(ctx, deadline, func() bool { _, err := get(ctx, client, c.URL+"/ok"); return err == nil }); err != nil {
		return c, fmt.Errorf("master did not come up: %w", err)
	}
	// One slave at a time, each in the pool before the next starts, so the
	// pool's join order is the -slaves order (first_available and the
	// tie-breaks of the others go by join order) and runs are comparable.
	for i, spec := range o.Slaves {
		args := []string{"-iface", "lo", "-discovery-port", strconv.Itoa(udp),
			"-metrics-addr", "127.0.0.1:0", "-sd-dir", "",
			"-log-level", o.LogLevel, "-drain-timeout", o.StopTimeout.String()}
		args = append(append(args, spec.Args()...), o.SlaveArgs...)
		p, err := startProcess(fmt.Sprintf("slave s%d", i+1), o.SlaveBin, args, fmt.Sprintf("%sslave%d.log", prefix, i+1))
		if err != nil {
			return c, err
		}
		c.slaves = append(c.slaves, p)
		if spec.CPU > 0 {
			if c.quotas == nil {
				if c.quotas, err = newCPUQuotas(); err != nil {
					return c, err
				}
			}
			if err = c.quotas.limit(fmt.Sprintf("s%d", i+1), p.cmd.Process.Pid, spec.CPU); err != nil {
				return c, err
			}
		}
		joined := func() bool { n, err := poolSize(ctx, client, c.URL); return err == nil && n == i+1 }
		if err = c.await(ctx, deadline, joined); err != nil {
			return c, fmt.Errorf("slave s%d did not join: %w", i+1, err)
		}
		if err = c.labelNewest(ctx, client, fmt.Sprintf("s%d", i+1)); err != nil {
			return c, err
		}
	}
	return c, nil
}

// await polls ready every 20 ms until it holds, a process exits, ctx ends
// or the deadline passes.
func (c *Cluster) await(ctx context.Context, deadline time.Time, ready func() bool) error {
	for {
		for _, p := range c.processes() {
			if p.exited() {
				err := p.failure()
				if strings.Contains(err.Error(), "address already in use") {
					err = fmt.Errorf("%w: %w", errPortTaken, err)
				}
				return err
			}
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out; logs: %s", c.master.logPath)
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// labelNewest names the one slave of the pool not labelled yet: the
// slaves join one at a time, so it is the one that just joined.
func (c *Cluster) labelNewest(ctx context.Context, client *http.Client, label string) error {
	groups, err := sdTargets(ctx, client, c.URL)
	if err != nil {
		return fmt.Errorf("reading the pool from /sd/targets: %w", err)
	}
	var fresh []string
	for _, g := range groups {
		if key := g.slaveKey(); key != "" && c.Labels[key] == "" {
			fresh = append(fresh, key)
		}
	}
	if len(fresh) != 1 {
		return fmt.Errorf("/sd/targets names %d new slaves after %s joined (%q), want 1", len(fresh), label, fresh)
	}
	c.Labels[fresh[0]] = label
	return nil
}

// pids lists the cluster's process IDs.
func (c *Cluster) pids() []int {
	var pids []int
	for _, p := range c.processes() {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

func (c *Cluster) processes() []*process {
	ps := append([]*process(nil), c.slaves...)
	if c.master != nil {
		ps = append(ps, c.master)
	}
	return ps
}

// Stop stops the slaves, then the master: SIGTERM, and SIGKILL after
// timeout. It is safe to call more than once.
func (c *Cluster) Stop(timeout time.Duration) error {
	var errs []error
	c.stop.Do(func() {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, p := range c.slaves {
			wg.Go(func() {
				if err := p.stop(timeout); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if c.master != nil {
			errs = append(errs, c.master.stop(timeout))
		}
		if c.quotas != nil {
			errs = append(errs, c.quotas.remove())
		}
	})
	return errors.Join(errs...)
}

// poolSize reads master_slaves from the master's /metrics.
func poolSize(ctx context.Context, client *http.Client, base string) (int, error) {
	body, err := get(ctx, client, base+"/metrics")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "master_slaves "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no master_slaves in %s/metrics", base)
}

// freeTCPPort returns a TCP port free on 127.0.0.1 right now.
func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPort returns a UDP port free on 127.0.0.1 right now.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// MasterAlgorithms asks a master binary which algorithms it knows (from the
// "algorithms: a, b (default c)" line of its -h), so a binary older than
// the lab is caught before a run rather than in the middle of one. It
// returns nil when the binary does not say.
func MasterAlgorithms(ctx context.Context, masterBin string) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, masterBin, "-h").CombinedOutput() // -h exits 0 or 2, either is fine
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "algorithms: ")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, " (default")
		var names []string
		for _, n := range strings.Split(rest, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		return names
	}
	return nil
}

// CheckExtraArgs refuses extra daemon flags that would take the lab off
// loopback or away from the ports and files it manages.
func CheckExtraArgs(daemon string, args []string) error {
	managed := map[string]bool{"iface": true, "http": true, "discovery": true, "master": true,
		"discovery-port": true, "metrics-addr": true, "sd-dir": true, "log-level": true}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if managed[name] {
			return fmt.Errorf("-%s-flags: -%s is set by the lab (loopback only, its own ports and logs)", daemon, name)
		}
	}
	return nil
}
