package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keptMetricNames are the original design's counter names, kept although
// promtool wants counters to end in _total (README, Metrics).
var keptMetricNames = []string{"tasks_requested", "tasks_completed"}

// TestInstall installs with `make install PREFIX=<tmp>` and runs what it
// installed: every binary answers -version with this checkout's revision,
// an installed master and slave on loopback compute a task, and promtool
// passes both daemons' /metrics but for the kept names. systemd-analyze
// verifies the installed units.
func TestInstall(t *testing.T) {
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%q is not installed: %v", tool, err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	prefix := t.TempDir()
	install := exec.Command("make", "-s", "install", "PREFIX="+prefix)
	install.Dir = root
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(prefix, "bin")
	for _, name := range []string{"master", "slave", "monitoring", "bench"} {
		out, err := exec.Command(filepath.Join(bin, name), "-version").Output()
		if err != nil {
			t.Fatalf("%s -version: %v", name, err)
		}
		if v := string(out); !strings.HasPrefix(v, name+" ") || !strings.Contains(v, "(revision "+strings.TrimSpace(string(rev))) {
			t.Errorf("%s -version = %q, want the name and revision %s", name, v, rev)
		}
	}
	for _, f := range []string{
		"etc/loadbalancer/master.env", "etc/loadbalancer/slave.env", "etc/loadbalancer/monitor.env",
		"etc/loadbalancer/prometheus-slave-host.yml", "share/loadbalancer/grafana/dashboard.json",
		"share/loadbalancer/prometheus.service.d/loadbalancer.conf", "share/loadbalancer/loadbalancer.sysusers",
	} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}

	t.Run("loopback cluster", func(t *testing.T) { runInstalled(t, bin) })
	t.Run("systemd units", func(t *testing.T) { verifyUnits(t, prefix) })
}

// runInstalled runs the installed master and one slave on loopback, asks
// for a task and checks both /metrics with promtool.
func runInstalled(t *testing.T, bin string) {
	httpAddr, metricsAddr := promFreeAddr(t), promFreeAddr(t)
	udp := freeUDPPort(t)
	startLocal(t, filepath.Join(bin, "master"), "-iface", "lo", "-http", httpAddr, "-discovery", ":"+udp)
	startLocal(t, filepath.Join(bin, "slave"), "-iface", "lo", "-discovery-port", udp, "-sd-dir", "", "-metrics-addr", metricsAddr)
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		if code, b := loopbackGet("http://" + httpAddr + "/fibonacci?n=90"); code == 200 {
			body = b
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "2880067194370816120\n" {
		t.Fatalf("GET /fibonacci?n=90 on the installed master: %q", body)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, "promtool (Debian package prometheus) is not installed: %v", err)
	}
	for name, url := range map[string]string{"master": "http://" + httpAddr + "/metrics", "slave": "http://" + metricsAddr + "/metrics"} {
		code, metrics := loopbackGet(url)
		if code != 200 {
			t.Fatalf("GET %s: %d", url, code)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(metrics)
		out, _ := cmd.CombinedOutput() // it exits 1 on any finding; the findings are what counts
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" || keptName(line) {
				continue
			}
			t.Errorf("promtool check metrics on the %s: %s", name, line)
		}
	}
}

func keptName(promtoolLine string) bool {
	for _, n := range keptMetricNames {
		if strings.HasPrefix(promtoolLine, n+" counter metrics should have \"_total\" suffix") {
			return true
		}
	}
	return false
}

// verifyUnits runs systemd-analyze verify on the installed units (with
// paths rewritten for the prefix, so their programs exist) and on the
// Prometheus drop-in merged into a unit of its own. systemd-analyze exits 0
// on unknown keys and bad values, printing them: any output is a failure.
func verifyUnits(t *testing.T, prefix string) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze (Debian package systemd) is not installed: %v", err)
	}
	units, _ := filepath.Glob(filepath.Join(prefix, "lib/systemd/system/*.service"))
	if len(units) != 3 {
		t.Fatalf("installed units %v, want 3", units)
	}
	dropIn, err := os.ReadFile(filepath.Join(prefix, "share/loadbalancer/prometheus.service.d/loadbalancer.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		merged := filepath.Join(t.TempDir(), "prometheus.service")
		unit := "[Unit]\nDescription=Debian's prometheus.service with the drop-in\n\n" + string(dropIn)
		if err := os.WriteFile(merged, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, merged)
	} else {
		skipOrFail(t, "no /usr/bin/prometheus for the drop-in's ExecStart: %v", err)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", units, err, out)
	}
}

// startLocal starts a daemon in this namespace (its flags keep it on
// loopback) and stops it by PID when the test ends.
func startLocal(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel() // SIGKILL
			<-done
		}
		if t.Failed() {
			t.Logf("----- %s %v -----\n%s", filepath.Base(bin), args, out.String())
		}
	})
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// loopbackGet GETs url (on 127.0.0.1) from this namespace.
func loopbackGet(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, fmt.Sprint(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
