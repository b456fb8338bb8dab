package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMonitorOnVirtualSubnet runs the monitor as a user would: master on
// h1, two slave hosts (h2, h3) each with a slave and its own Prometheus on
// :9090 started by the repo's script, and on h4 the monitor next to a
// Grafana (the double: no real Grafana can run here) on localhost:3000. The
// monitor and the slaves get no flags but the key: they find the master by
// broadcast. Grafana must end up with exactly one datasource per slave host,
// and lose the one of a host whose slave dies.
func TestMonitorOnVirtualSubnet(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped in -short mode")
	}
	requireTools(t)
	for _, bin := range []string{"prometheus", "prometheus-node-exporter"} {
		if _, err := exec.LookPath(bin); err != nil {
			skipOrFail(t, "%s is not installed (apt-get install %s)", bin, bin)
		}
	}
	const masterH, slaveA, slaveB, monitorH = 1, 2, 3, 4
	l := newLab(t, 4)
	bin := buildBinaries(t)
	buildExtra(t, bin, "./cmd/monitoring", "./testutil/grafanadouble/cmd/grafana-double")
	state := t.TempDir()

	startIn(t, l.host(masterH), "master", filepath.Join(bin, "master"))
	const key = "e2e-service-account-token"
	startIn(t, l.host(monitorH), "grafana double", filepath.Join(bin, "grafana-double"), "-listen", "127.0.0.1:3000", "-key", key)

	slaves := map[int]*proc{}
	for _, h := range []int{slaveA, slaveB} {
		lbState := filepath.Join(state, fmt.Sprintf("h%d", h))
		hostScript(t, l.host(h), lbState, "start")
		t.Cleanup(func() { hostScript(t, l.host(h), lbState, "stop") })
		slaves[h] = startIn(t, l.host(h), fmt.Sprintf("slave on h%d", h), filepath.Join(bin, "slave"),
			"-sd-dir", filepath.Join(lbState, "prometheus", "targets"))
	}
	startIn(t, l.host(monitorH), "monitor", filepath.Join(bin, "monitoring"), "-interval", "500ms", key)

	// Each slave host's Prometheus scrapes its slave, seen from the monitor host.
	for _, h := range []int{slaveA, slaveB} {
		url := fmt.Sprintf("http://%s:9090/api/v1/query?query=up%%7Bjob%%3D%%22slaves%%22%%7D", l.hostIP(h))
		eventually(t, 30*time.Second, 250*time.Millisecond, fmt.Sprintf("Prometheus on h%d to scrape its slave", h), func() (bool, string, error) {
			r, err := httpGet(l.host(monitorH), url)
			if err != nil {
				return false, err.Error(), nil
			}
			var q struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(r.body), &q) != nil || len(q.Data.Result) != 1 {
				return false, r.body, nil
			}
			return q.Data.Result[0].Value[1] == "1", r.body, nil
		})
	}

	want := func(hosts ...int) []string {
		var names []string
		for _, h := range hosts {
			names = append(names, fmt.Sprintf("lb-%s http://%s:9090", l.hostIP(h), l.hostIP(h)))
		}
		return names
	}
	waitDatasources := func(what string, expect []string) time.Duration {
		return eventually(t, 30*time.Second, 100*time.Millisecond, what, func() (bool, string, error) {
			r, err := httpGet(l.host(monitorH), "http://127.0.0.1:3000/api/datasources", "Authorization: Bearer "+key)
			if err != nil || r.status != 200 {
				return false, fmt.Sprintf("%v %d %s", err, r.status, r.body), nil
			}
			var list []struct{ Name, URL string }
			if err := json.Unmarshal([]byte(r.body), &list); err != nil {
				return false, r.body, nil
			}
			var got []string
			for _, ds := range list {
				got = append(got, ds.Name+" "+ds.URL)
			}
			slices.Sort(got)
			return slices.Equal(got, expect), fmt.Sprint(got), nil
		})
	}
	took := waitDatasources("a datasource for each slave host", want(slaveA, slaveB))
	t.Logf("Grafana had both slave hosts' datasources %s after the monitor started", took.Round(time.Millisecond))

	r, err := httpGet(l.host(monitorH), "http://127.0.0.1:3000/api/dashboards/uid/plugnplay-lb", "Authorization: Bearer "+key)
	if err != nil || r.status != 200 {
		t.Fatalf("dashboard: %v %d %s", err, r.status, r.body)
	}

	slaves[slaveB].kill(t)
	took = waitDatasources("the datasource of the host whose slave died to go", want(slaveA))
	t.Logf("the dead host's datasource was gone %s after its slave was killed", took.Round(time.Millisecond))
}

// buildExtra builds more packages into dir, next to master and slave.
func buildExtra(t *testing.T, dir string, pkgs ...string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %v: %v\n%s", pkgs, err, out)
	}
}

// hostScript runs scripts/slave-host.sh inside namespace ns, as
// `make slave_preproc` would on a real slave host.
func hostScript(t *testing.T, ns, lbState, action string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(lbState, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd("ip", "netns", "exec", ns, "env", "LB_STATE="+lbState, "PROM_LISTEN=:9090", "NODE_LISTEN=:9100",
		filepath.Join(root, "scripts", "slave-host.sh"), action)
	if err != nil {
		t.Fatalf("slave-host.sh %s in %s: %v\n%s", action, ns, err, out)
	}
}
