package e2e

// A real Prometheus against in-process masters and slaves on loopback:
// file_sd over the slaves' target files with deploy/prometheus/slave-host.yml,
// http_sd over the master's /sd/targets with deploy/prometheus/central.yml;
// and the scripts behind make slave_preproc / monitor_preproc.
//
// Prometheus comes from $PROMETHEUS or /usr/bin/prometheus, node_exporter from
// $NODE_EXPORTER or /usr/bin/prometheus-node-exporter (Debian packages
// prometheus and prometheus-node-exporter). A missing one skips, except under
// CI=true, where it fails. Everything listens on 127.0.0.1 only. `go test
// -short` skips these tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/promsd"
	promslave "github.com/lbproject/loadbalancer/slave_src"
	"github.com/lbproject/loadbalancer/testutil"
)

const (
	// promRequests task requests of /fibonacci?n=30 are sent in the test.
	promRequests = 12
	promFib30    = "832040\n"
	// promFakeGrafanaEnv turns this test binary into a stand-in for
	// grafana-server (see init below).
	promFakeGrafanaEnv = "LB_E2E_FAKE_GRAFANA"
)

// TestPrometheusDiscoversSlaves runs three slaves and two Prometheus servers:
// one configured like a slave host (file_sd), one like the central server
// (http_sd through the master). Both must find every slave, count every
// completed task, and drop a slave that stops.
func TestPrometheusDiscoversSlaves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus: skipped in -short mode")
	}
	promBin := promBinary(t, "PROMETHEUS", "/usr/bin/prometheus", "prometheus")
	root := promRepoRoot(t)
	targetDir := t.TempDir()
	nodeAddr, nodeReal := promNodeExporter(t)

	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	base := "http://" + m.HTTPAddr().String()
	type member struct {
		s       *promslave.Slave
		node    *testutil.Node
		metrics string // host:port of its /metrics
		file    string // its target file
	}
	var members []member
	for range 3 {
		o := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
		o.TargetDir = targetDir
		o.MetricsAddr = "127.0.0.1:0"
		s, node := testutil.StartSlave(t, o)
		members = append(members, member{
			s: s, node: node, metrics: s.MetricsAddr(),
			file: filepath.Join(targetDir, fmt.Sprintf("slave-127.0.0.1-%d.json", s.ID())),
		})
	}
	testutil.WaitFor(t, 10*time.Second, "3 slaves in the pool", func() bool { return m.Slaves() == 3 })
	for _, mb := range members {
		promWaitFor(t, 5*time.Second, "target file "+mb.file, func() (bool, string) {
			groups, err := promReadGroups(mb.file)
			if err != nil {
				return false, err.Error()
			}
			want := promsd.SlaveGroup(mb.s.ID(), promMustAddrPort(t, mb.metrics))
			return len(groups) == 1 && slices.Equal(groups[0].Targets, want.Targets) &&
				fmt.Sprint(groups[0].Labels) == fmt.Sprint(want.Labels), fmt.Sprint(groups)
		})
	}
	live := func() []string {
		var addrs []string
		for _, mb := range members {
			addrs = append(addrs, mb.metrics)
		}
		return addrs
	}

	// The repository's configs, placeholders substituted and intervals
	// shortened so that the test is quick.
	fast := map[string]string{
		"scrape_interval: 5s": "scrape_interval: 1s", "evaluation_interval: 5s": "evaluation_interval: 1s",
		"refresh_interval: 5s": "refresh_interval: 1s",
	}
	hostCfg := promAdapt(t, filepath.Join(root, "deploy/prometheus/slave-host.yml"), fast,
		map[string]string{"@TARGET_DIR@": targetDir, "@NODE_EXPORTER@": nodeAddr})
	centralCfg := promAdapt(t, filepath.Join(root, "deploy/prometheus/central.yml"), fast,
		map[string]string{"@MASTER@": m.HTTPAddr().String()})
	fileSD := promStart(t, "file_sd", promBin, hostCfg)
	httpSD := promStart(t, "http_sd", promBin, centralCfg)

	if !t.Run("every slave is an up target", func(t *testing.T) {
		if got := promSDTargets(t, base); !slices.Equal(got, promSorted(live())) {
			t.Fatalf("master's /sd/targets lists %v, want %v", got, promSorted(live()))
		}
		for _, p := range []*promServer{fileSD, httpSD} {
			p.waitTargets(t, "slaves", live(), true, 20*time.Second)
			for _, tg := range p.mustTargets(t, "slaves") {
				mb := members[slices.IndexFunc(members, func(mb member) bool { return mb.metrics == tg.Labels["instance"] })]
				if tg.Labels["slave_id"] != strconv.Itoa(int(mb.s.ID())) || tg.Labels["host"] != "127.0.0.1" {
					t.Errorf("%s: target %s has labels %v, want slave_id=%d host=127.0.0.1", p.name, mb.metrics, tg.Labels, mb.s.ID())
				}
			}
		}
		if nodeReal {
			fileSD.waitTargets(t, "node", []string{nodeAddr}, true, 20*time.Second)
		} else {
			fileSD.waitTargets(t, "node", []string{nodeAddr}, false, 20*time.Second)
			if os.Getenv("CI") == "true" { // CI must not pass what it did not check
				t.Errorf("node_exporter not installed (CI=true, so this is a failure): apt-get install prometheus-node-exporter")
			} else {
				t.Logf("node_exporter not installed: job node points at closed port %s", nodeAddr)
			}
		}
		httpSD.waitTargets(t, "master", []string{m.HTTPAddr().String()}, true, 20*time.Second)
	}) {
		return
	}

	if !t.Run("completed tasks are counted", func(t *testing.T) {
		for i := range promRequests {
			if status, _, body := testutil.Get(t, base+"/fibonacci?n=30", ""); status != 200 || body != promFib30 {
				t.Fatalf("request %d: %d %q, want 200 %q", i+1, status, body, promFib30)
			}
		}
		want := strconv.Itoa(promRequests)
		for _, p := range []*promServer{fileSD, httpSD} {
			p.waitQuery(t, `sum(tasks_completed{job="slaves"})`, want, 20*time.Second)
		}
		httpSD.waitQuery(t, `sum(master_requests_total{job="master",task="fibonacci",code="200"})`, want, 20*time.Second)
		for _, q := range []string{"tasks_completed", "current_load", "max_load"} {
			samples, err := fileSD.query(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range samples {
				t.Logf("%s: %s", fileSD.name, s)
			}
		}
	}) {
		return
	}

	// The first slave stops: it removes its target file and leaves the pool.
	gone := members[0]
	members = members[1:]
	gone.node.Stop()

	t.Run("a stopped slave leaves file_sd", func(t *testing.T) {
		promWaitFor(t, 5*time.Second, "the stopped slave's target file to be removed", func() (bool, string) {
			_, err := os.Stat(gone.file)
			return errors.Is(err, os.ErrNotExist), fmt.Sprint(err)
		})
		fileSD.waitTargets(t, "slaves", live(), true, 20*time.Second)
	})
	t.Run("a stopped slave leaves http_sd", func(t *testing.T) {
		promWaitFor(t, 10*time.Second, "the master's /sd/targets without the stopped slave", func() (bool, string) {
			got := promSDTargets(t, base)
			return slices.Equal(got, promSorted(live())), fmt.Sprint(got)
		})
		httpSD.waitTargets(t, "slaves", live(), true, 20*time.Second)
	})
}

// TestSlaveHostScript drives scripts/slave-host.sh as make slave_preproc and
// slave_postproc do, on loopback ports with a temporary LB_STATE.
func TestSlaveHostScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter: skipped in -short mode")
	}
	promBin := promBinary(t, "PROMETHEUS", "/usr/bin/prometheus", "prometheus")
	nodeBin := promBinary(t, "NODE_EXPORTER", "/usr/bin/prometheus-node-exporter", "prometheus-node-exporter")
	root := promRepoRoot(t)
	state := t.TempDir()
	promAddr, nodeAddr := promFreeAddr(t), promFreeAddr(t)
	env := []string{"LB_STATE=" + state, "PROMETHEUS=" + promBin, "NODE_EXPORTER=" + nodeBin,
		"PROM_LISTEN=" + promAddr, "NODE_LISTEN=" + nodeAddr}
	script := filepath.Join(root, "scripts/slave-host.sh")
	promPidFile, nodePidFile := filepath.Join(state, "run/prometheus.pid"), filepath.Join(state, "run/node-exporter.pid")

	// Stale pid files: one names this test process (alive, but no
	// Prometheus), one a PID that cannot exist.
	if err := os.MkdirAll(filepath.Join(state, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	promWriteFile(t, promPidFile, fmt.Sprintf("%d\n", os.Getpid()))
	promWriteFile(t, nodePidFile, "2147483646\n")

	out := promRunScript(t, root, env, 0, script, "start")
	if !strings.Contains(out, "replacing the stale pid file") {
		t.Errorf("start did not say it replaced the stale pid files:\n%s", out)
	}
	promPid, nodePid := promReadPid(t, promPidFile), promReadPid(t, nodePidFile)
	t.Cleanup(func() { promKillIfOurs(t, promPid, state); promKillIfOurs(t, nodePid, state) })
	if promPid == os.Getpid() || nodePid == 2147483646 {
		t.Fatalf("start kept the stale pid files: %d, %d", promPid, nodePid)
	}
	if got := promArgv0(promPid); got != promBin {
		t.Errorf("pid %d in %s runs %q, want %q", promPid, promPidFile, got, promBin)
	}
	if got := promArgv0(nodePid); got != nodeBin {
		t.Errorf("pid %d in %s runs %q, want %q", nodePid, nodePidFile, got, nodeBin)
	}
	promExpectHTTP(t, "http://"+promAddr+"/-/ready", "")
	promExpectHTTP(t, "http://"+nodeAddr+"/metrics", "node_exporter_build_info")

	cfg, err := os.ReadFile(filepath.Join(state, "prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	targetDir := filepath.Join(state, "prometheus/targets")
	for _, want := range []string{"'" + targetDir + "/*.json'", "'" + nodeAddr + "'"} {
		if !bytes.Contains(cfg, []byte(want)) {
			t.Errorf("rendered prometheus.yml lacks %s:\n%s", want, cfg)
		}
	}
	if p := regexp.MustCompile(`@[A-Z_]+@`).Find(cfg); p != nil {
		t.Errorf("rendered prometheus.yml still has placeholder %s", p)
	}

	t.Run("second start starts nothing", func(t *testing.T) {
		out := promRunScript(t, root, env, 0, script, "start")
		if strings.Count(out, "already running") != 2 {
			t.Errorf("second start did not say both run already:\n%s", out)
		}
		if p, n := promReadPid(t, promPidFile), promReadPid(t, nodePidFile); p != promPid || n != nodePid {
			t.Errorf("pids after the second start: %d, %d; want %d, %d", p, n, promPid, nodePid)
		}
		if got := promProcsWith(state); len(got) != 2 {
			t.Errorf("processes with %s on their command line: %v, want exactly %d and %d", state, got, promPid, nodePid)
		}
	})

	t.Run("a slave publishes itself to the script's Prometheus", func(t *testing.T) {
		m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
		o := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
		o.TargetDir = targetDir
		s, node := testutil.StartSlave(t, o)
		defer node.Stop()
		p := &promServer{name: "slave-host.sh's Prometheus", addr: promAddr, log: filepath.Join(state, "log/prometheus.log")}
		// Scrapes every 5 s, as the repository's config says.
		p.waitTargets(t, "slaves", []string{s.MetricsAddr()}, true, 20*time.Second)
		p.waitTargets(t, "node", []string{nodeAddr}, true, 20*time.Second)
	})

	out = promRunScript(t, root, env, 0, script, "status")
	for _, want := range []string{"Prometheus: running (pid " + strconv.Itoa(promPid), "node_exporter: running (pid " + strconv.Itoa(nodePid)} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}

	promRunScript(t, root, env, 0, script, "stop")
	for _, f := range []string{promPidFile, nodePidFile} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after stop (%v)", f, err)
		}
	}
	promWaitFor(t, 5*time.Second, "Prometheus and node_exporter to be gone", func() (bool, string) {
		got := promProcsWith(state)
		return len(got) == 0, fmt.Sprint("still running: ", got)
	})
	if out := promRunScript(t, root, env, 3, script, "status"); strings.Count(out, "not running") != 2 {
		t.Errorf("status after stop:\n%s", out)
	}

	t.Run("errors", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		state := t.TempDir()
		env := []string{"LB_STATE=" + state, "PROMETHEUS=" + promBin, "NODE_EXPORTER=" + nodeBin,
			"PROM_LISTEN=" + taken.Addr().String(), "NODE_LISTEN=" + promFreeAddr(t)}
		out := promRunScript(t, root, env, 1, script, "start")
		if !strings.Contains(out, fmt.Sprintf("port %d is already in use", taken.Addr().(*net.TCPAddr).Port)) {
			t.Errorf("start on a taken port does not say so:\n%s", out)
		}
		if got := promProcsWith(state); len(got) != 0 {
			t.Errorf("start on a taken port left processes running: %v", got)
		}
		env[1] = "PROMETHEUS=" + filepath.Join(state, "no-such-prometheus")
		if out := promRunScript(t, root, env, 1, script, "start"); !strings.Contains(out, "apt-get install prometheus") {
			t.Errorf("start without Prometheus does not say how to install it:\n%s", out)
		}
	})
}

// TestPromMonitorHostScript checks that scripts/monitor-host.sh never
// pretends: without Grafana it fails and says how to install it. With a
// stand-in for grafana-server (this test binary) it starts, is idempotent,
// prints the token instructions and stops.
func TestPromMonitorHostScript(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		promSkipOrFail(t, "bash is not installed")
	}
	root := promRepoRoot(t)
	script := filepath.Join(root, "scripts/monitor-host.sh")

	t.Run("without Grafana", func(t *testing.T) {
		state := t.TempDir()
		env := []string{"LB_STATE=" + state, "GRAFANA=" + filepath.Join(state, "no-such-grafana"), "GRAFANA_LISTEN=" + promFreeAddr(t)}
		out := promRunScript(t, root, env, 1, script, "start")
		for _, want := range []string{"Grafana's own APT repository", "apt-get install -y grafana", "Nothing was started"} {
			if !strings.Contains(out, want) {
				t.Errorf("start without Grafana does not say %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(state, "run/grafana.pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("start without Grafana wrote a pid file (%v)", err)
		}
	})

	for _, name := range []string{"grafana", "grafana-server"} {
		t.Run("stand-in "+name, func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			state, bin, home := t.TempDir(), filepath.Join(t.TempDir(), name), t.TempDir()
			if err := os.Symlink(self, bin); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(home, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			addr := promFreeAddr(t)
			env := []string{"LB_STATE=" + state, "GRAFANA=" + bin, "GRAFANA_HOME=" + home, "GRAFANA_LISTEN=" + addr,
				promFakeGrafanaEnv + "=1"}
			pidFile := filepath.Join(state, "run/grafana.pid")

			out := promRunScript(t, root, env, 0, script, "start")
			pid := promReadPid(t, pidFile)
			t.Cleanup(func() { promKillIfOurs(t, pid, state) })
			for _, want := range []string{"Service accounts", "./monitoring <token>", "http://" + addr} {
				if !strings.Contains(out, want) {
					t.Errorf("start does not say %q:\n%s", want, out)
				}
			}
			promExpectHTTP(t, "http://"+addr+"/api/health", "ok")
			out = promRunScript(t, root, env, 0, script, "start")
			if !strings.Contains(out, "already running (pid "+strconv.Itoa(pid)) || promReadPid(t, pidFile) != pid {
				t.Errorf("second start:\n%s", out)
			}
			if got := promProcsWith(state); len(got) != 1 {
				t.Errorf("processes with %s on their command line: %v, want only %d", state, got, pid)
			}
			promRunScript(t, root, env, 0, script, "status")
			promRunScript(t, root, env, 0, script, "stop")
			promWaitFor(t, 5*time.Second, "the stand-in to be gone", func() (bool, string) {
				got := promProcsWith(state)
				return len(got) == 0, fmt.Sprint("still running: ", got)
			})
			promRunScript(t, root, env, 3, script, "status")
		})
	}
}

// init makes this test binary a stand-in for grafana-server when
// monitor-host.sh starts it with LB_E2E_FAKE_GRAFANA=1: it checks the
// arguments the script gives Grafana and serves /api/health until SIGTERM.
func init() {
	if os.Getenv(promFakeGrafanaEnv) != "1" {
		return
	}
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "grafana" {
		if len(args) == 0 || args[0] != "server" {
			fmt.Fprintln(os.Stderr, "fake grafana: want the server subcommand first")
			os.Exit(2)
		}
		args = args[1:]
	}
	cfg := map[string]string{}
	for i, a := range args {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "cfg:default."), "="); ok && strings.HasPrefix(a, "cfg:default.") {
			cfg[k] = v
		}
		if a == "--homepath" && i+1 < len(args) {
			cfg["homepath"] = args[i+1]
		}
	}
	for _, k := range []string{"homepath", "paths.data", "paths.logs", "paths.plugins", "server.http_addr", "server.http_port"} {
		if _, ok := cfg[k]; !ok {
			fmt.Fprintf(os.Stderr, "fake grafana: no %s in %q\n", k, os.Args)
			os.Exit(2)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg["server.http_addr"], cfg["server.http_port"]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake grafana:", err)
		os.Exit(1)
	}
	fmt.Println("fake grafana listening on", ln.Addr())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, `{"database":"ok"}`)
	}))
	os.Exit(1)
}

// ---- helpers ---------------------------------------------------------------

// promSkipOrFail skips, or fails under CI=true: CI must not pass a test
// that did not run.
func promSkipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing (CI=true, so this is a failure, not a skip): %s", msg)
	}
	t.Skip("skipping: " + msg)
}

// promBinary is the binary $envVar names, or def; missing, it skips or fails.
func promBinary(t *testing.T, envVar, def, pkg string) string {
	t.Helper()
	bin := def
	if v := os.Getenv(envVar); v != "" {
		bin = v
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		promSkipOrFail(t, "%s (set %s) is not installed: apt-get install %s (%v)", bin, envVar, pkg, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// promRepoRoot is the repository root: the tests run in e2e/.
func promRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy/prometheus/slave-host.yml")); err != nil {
		t.Fatalf("not the repository root: %v", err)
	}
	return root
}

// promFreeAddr is a 127.0.0.1 address with a port nothing listens on now.
func promFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func promMustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// promEnv is the environment of the processes the tests start: no proxy,
// plus extra.
func promEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy", promFakeGrafanaEnv:
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

var promClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   5 * time.Second,
}

func promGet(u string) (int, []byte, error) {
	resp, err := promClient.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// promExpectHTTP fails unless GET u answers 200 with want in the body.
func promExpectHTTP(t *testing.T, u, want string) {
	t.Helper()
	status, body, err := promGet(u)
	if err != nil || status != 200 || !bytes.Contains(body, []byte(want)) {
		t.Fatalf("GET %s: %d, %v, body %.200q; want 200 with %q", u, status, err, body, want)
	}
}

// promWaitFor polls cond every 100 ms until it holds, or fails after timeout
// with what cond last said.
func promWaitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promAdapt reads a config template, applies the interval changes (each must
// apply: a changed template must not silently make the test slow) and the
// placeholders, and checks none is left.
func promAdapt(t *testing.T, path string, changes, placeholders map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for old, repl := range changes {
		if !strings.Contains(text, old) {
			t.Fatalf("%s has no %q to shorten", path, old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	for ph, v := range placeholders {
		if !strings.Contains(text, ph) {
			t.Fatalf("%s has no placeholder %s", path, ph)
		}
		text = strings.ReplaceAll(text, ph, v)
	}
	if p := regexp.MustCompile(`@[A-Z_]+@`).FindString(text); p != "" {
		t.Fatalf("%s: placeholder %s left", path, p)
	}
	return text
}

func promReadGroups(path string) ([]promsd.TargetGroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var groups []promsd.TargetGroup
	return groups, json.Unmarshal(b, &groups)
}

// promSDTargets lists the targets in the master's /sd/targets, sorted.
func promSDTargets(t *testing.T, base string) []string {
	t.Helper()
	status, body, err := promGet(base + "/sd/targets")
	if err != nil || status != 200 {
		t.Fatalf("GET /sd/targets: %d %v", status, err)
	}
	var groups []promsd.TargetGroup
	if err := json.Unmarshal(body, &groups); err != nil {
		t.Fatalf("/sd/targets: %v: %s", err, body)
	}
	var targets []string
	for _, g := range groups {
		targets = append(targets, g.Targets...)
	}
	return promSorted(targets)
}

func promSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func promWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func promReadPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("%s: bad pid %q", path, b)
	}
	return pid
}

// promCmdline is the command line of process pid; nil when it is gone (a
// zombie has none).
func promCmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func promArgv0(pid int) string {
	if args := promCmdline(pid); len(args) > 0 {
		return args[0]
	}
	return ""
}

// promProcsWith lists the processes with an argument containing s (the
// scripts put LB_STATE on their daemons' command lines).
func promProcsWith(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, arg := range promCmdline(pid) {
			if strings.Contains(arg, s) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// promKillIfOurs is the safety net of the script tests: it kills pid if it
// still runs with state on its command line.
func promKillIfOurs(t *testing.T, pid int, state string) {
	if slices.Contains(promProcsWith(state), pid) {
		t.Logf("killing leftover pid %d", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// promRunScript runs a script with bash from the repository root, in the
// test environment plus env, and fails unless it exits with wantCode. It
// returns stdout and stderr together.
func promRunScript(t *testing.T, root string, env []string, wantCode int, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Dir = root
	cmd.Env = promEnv(env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(script), strings.Join(args, " "), err, out)
	}
	t.Logf("$ %s %s  (exit %d)\n%s", filepath.Base(script), strings.Join(args, " "), code, bytes.TrimRight(out, "\n"))
	if code != wantCode {
		t.Fatalf("%s %s: exit %d, want %d", filepath.Base(script), strings.Join(args, " "), code, wantCode)
	}
	return string(out)
}

// promNodeExporter starts node_exporter on a free loopback port when it is
// installed, and returns its address; otherwise it returns a closed port.
func promNodeExporter(t *testing.T) (addr string, started bool) {
	t.Helper()
	bin := os.Getenv("NODE_EXPORTER")
	if bin == "" {
		bin = "/usr/bin/prometheus-node-exporter"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return promFreeAddr(t), false
	}
	// The port is picked, then released for node_exporter to bind: another
	// process may take it meanwhile, so a start that finds it taken tries
	// another.
	for attempt := 1; ; attempt++ {
		addr = promFreeAddr(t)
		dir := t.TempDir()
		logPath := filepath.Join(dir, "node-exporter.log")
		cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.textfile.directory="+dir)
		exited := promRun(t, "node_exporter", cmd, logPath)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if status, _, _ := promGet("http://" + addr + "/metrics"); status == 200 {
				return addr, true
			}
			select {
			case <-exited:
				if tail := promTail(logPath, 20); !strings.Contains(tail, "address already in use") || attempt >= 3 {
					t.Fatalf("node_exporter exited at start:\n%s", tail)
				}
				t.Logf("node_exporter: port %s taken meanwhile, trying another", addr)
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatalf("node_exporter's /metrics not up after 10 s:\n%s", promTail(logPath, 20))
				}
				continue
			}
			break
		}
	}
}

// promRun starts cmd with its output in logPath and stops it by PID when
// the test ends: SIGTERM, then SIGKILL after 10 s (Linux only, like the
// rest of this package). It returns a channel
// closed when the process has exited.
func promRun(t *testing.T, name string, cmd *exec.Cmd, logPath string) <-chan struct{} {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr, cmd.Env = logFile, logFile, promEnv()
	// Should the test binary die (a panic skips t.Cleanup), so does the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) ignored SIGTERM for 10 s: killing it", name, cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, logPath, promTail(logPath, 30))
		}
	})
	return exited
}

func promTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// promServer is a Prometheus the test talks to over its HTTP API.
type promServer struct {
	name, addr, log string
}

// promStart runs Prometheus with config text on a free loopback port and
// waits until it is ready. A port taken between choosing and binding it
// gets another try.
func promStart(t *testing.T, name, bin, config string) *promServer {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "prometheus.yml")
		promWriteFile(t, cfgPath, config)
		p := &promServer{name: name, addr: promFreeAddr(t), log: filepath.Join(dir, "prometheus.log")}
		exited := promRun(t, "Prometheus "+name, exec.Command(bin, "--config.file="+cfgPath,
			"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+p.addr), p.log)
		deadline := time.Now().Add(20 * time.Second)
		for {
			if status, _, _ := promGet("http://" + p.addr + "/-/ready"); status == 200 {
				return p
			}
			select {
			case <-exited:
				tail := promTail(p.log, 20)
				if strings.Contains(tail, "address already in use") && attempt < 3 {
					t.Logf("Prometheus %s: port %s taken meanwhile, trying another", name, p.addr)
				} else {
					t.Fatalf("Prometheus %s exited at start:\n%s", name, tail)
				}
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatalf("Prometheus %s not ready after 20 s:\n%s", name, promTail(p.log, 20))
				}
				continue
			}
			break
		}
	}
}

// promTarget is an active target in /api/v1/targets.
type promTarget struct {
	Labels     map[string]string `json:"labels"`
	ScrapePool string            `json:"scrapePool"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
}

func (p *promServer) api(path string, v any) error {
	status, body, err := promGet("http://" + p.addr + path)
	if err != nil {
		return err
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("GET %s: %d %.200q: %w", path, status, body, err)
	}
	if status != 200 || r.Status != "success" {
		return fmt.Errorf("GET %s: %d %s %s", path, status, r.Status, r.Error)
	}
	return json.Unmarshal(r.Data, v)
}

// targets lists the active targets of a scrape pool (job).
func (p *promServer) targets(pool string) ([]promTarget, error) {
	var data struct {
		ActiveTargets []promTarget `json:"activeTargets"`
	}
	if err := p.api("/api/v1/targets?state=active", &data); err != nil {
		return nil, err
	}
	var out []promTarget
	for _, tg := range data.ActiveTargets {
		if tg.ScrapePool == pool {
			out = append(out, tg)
		}
	}
	return out, nil
}

func (p *promServer) mustTargets(t *testing.T, pool string) []promTarget {
	t.Helper()
	tgs, err := p.targets(pool)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	return tgs
}

// waitTargets waits until the pool's active targets are exactly want (by
// instance), all up when up is set.
func (p *promServer) waitTargets(t *testing.T, pool string, want []string, up bool, timeout time.Duration) {
	t.Helper()
	want = promSorted(want)
	what := fmt.Sprintf("%s: job %q targets to be exactly %v", p.name, pool, want)
	if up {
		what += ", all up"
	}
	promWaitFor(t, timeout, what, func() (bool, string) {
		tgs, err := p.targets(pool)
		if err != nil {
			return false, err.Error()
		}
		var got, state []string
		allUp := true
		for _, tg := range tgs {
			got = append(got, tg.Labels["instance"])
			state = append(state, fmt.Sprintf("%s %s %q", tg.Labels["instance"], tg.Health, tg.LastError))
			allUp = allUp && tg.Health == "up"
		}
		return slices.Equal(promSorted(got), want) && (allUp || !up), strings.Join(state, "; ")
	})
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string
	Value  string
}

func (s promSample) String() string {
	var labels []string
	for k, v := range s.Metric {
		if k != "__name__" {
			labels = append(labels, fmt.Sprintf("%s=%q", k, v))
		}
	}
	slices.Sort(labels)
	return fmt.Sprintf("%s{%s} %s", s.Metric["__name__"], strings.Join(labels, ","), s.Value)
}

// query runs an instant query that returns a vector.
func (p *promServer) query(q string) ([]promSample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string  `json:"metric"`
			Value  [2]json.RawMessage `json:"value"`
		} `json:"result"`
	}
	if err := p.api("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", q, data.ResultType)
	}
	var out []promSample
	for _, r := range data.Result {
		var v string
		if err := json.Unmarshal(r.Value[1], &v); err != nil {
			return nil, fmt.Errorf("query %s: value %s: %w", q, r.Value[1], err)
		}
		out = append(out, promSample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// waitQuery waits until query q returns one sample whose value is want.
func (p *promServer) waitQuery(t *testing.T, q, want string, timeout time.Duration) {
	t.Helper()
	promWaitFor(t, timeout, fmt.Sprintf("%s: %s == %s", p.name, q, want), func() (bool, string) {
		samples, err := p.query(q)
		if err != nil {
			return false, err.Error()
		}
		return len(samples) == 1 && samples[0].Value == want, fmt.Sprint(samples)
	})
}
