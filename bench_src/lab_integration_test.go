package bench

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildDaemons builds ./master and ./slave into a temporary directory.
func buildDaemons(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-o", dir, "./cmd/master", "./cmd/slave")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// running lists the processes whose executable is in dir.
func running(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/exe")
	if err != nil || len(procs) == 0 {
		if os.Getenv("CI") == "true" { // CI must not pass a check it could not make
			t.Fatalf("no /proc (CI=true, so this is a failure): cannot check that every process was stopped")
		}
		t.Log("no /proc: cannot check that every process was stopped")
		return nil
	}
	var found []string
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			found = append(found, p+" → "+exe)
		}
	}
	return found
}

// TestLocalLab runs a short -local lab: two algorithms, two slaves, about
// 1.5 s each, against daemons built for the test.
func TestLocalLab(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real masters and slaves")
	}
	t.Parallel()
	bin := buildDaemons(t)
	out := t.TempDir()
	o := NewOptions()
	o.Local, o.BinDir, o.Quiet = true, bin, true
	o.Algorithms = []string{"round_robin", "least_load"}
	o.MasterArgs = []string{"-free-workers=false"} // round robin's even shares: the textbook rule
	var err error
	if o.Slaves, err = ParseSlaves("workers=2;max-load=5e10,workers=1"); err != nil {
		t.Fatal(err)
	}
	o.Concurrency, o.Duration = 4, 1500*time.Millisecond
	o.Out, o.Chart = filepath.Join(out, "lab.json"), filepath.Join(out, "lab.png")
	var stdout, stderr strings.Builder
	if _, err := Run(context.Background(), o, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	if left := running(t, bin); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
	for _, want := range []string{"| round_robin |", "| least_load |", "s2 = max-load=5e10,workers=1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout.String())
		}
	}
	raw, err := os.ReadFile(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Algorithm != "round_robin" || rep.Results[1].Algorithm != "least_load" {
		t.Fatalf("results %s", raw)
	}
	for _, res := range rep.Results {
		if len(res.Errors) != 0 || res.Completed == 0 || res.Completed != res.Requests {
			t.Errorf("%s: %d of %d completed, errors %v", res.Algorithm, res.Completed, res.Requests, res.Errors)
		}
		if len(res.Slaves) != 2 || res.Slaves[0].Label != "s1" || res.Slaves[1].Label != "s2" {
			t.Errorf("%s: slaves %+v, want s1 and s2", res.Algorithm, res.Slaves)
		}
		tasks, busy := 0.0, 0.0
		for _, s := range res.Slaves {
			tasks += s.TaskShare
			busy += s.BusyShare
		}
		if math.Abs(tasks-1) > 1e-9 || math.Abs(busy-1) > 1e-9 {
			t.Errorf("%s: shares sum to %g (tasks) and %g (busy), want 1", res.Algorithm, tasks, busy)
		}
		if res.Throughput <= 0 || res.LatencyMS.P50 <= 0 || res.LatencyMS.Max < res.LatencyMS.P99 {
			t.Errorf("%s: throughput %g, latency %+v", res.Algorithm, res.Throughput, res.LatencyMS)
		}
	}
	// round_robin alternates, so with no refusals the task shares are even.
	if rr := rep.Results[0]; math.Abs(rr.Slaves[0].TaskShare-0.5) > 0.05 {
		t.Errorf("round_robin task shares %g/%g, want about 50/50", rr.Slaves[0].TaskShare, rr.Slaves[1].TaskShare)
	}
	if fi, err := os.Stat(o.Chart); err != nil || fi.Size() < 10_000 {
		t.Errorf("chart: %v", err)
	}
}

// TestLocalLabInterrupted cancels a run (as Ctrl-C does) and checks that
// the lab stops what it started.
func TestLocalLabInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real masters and slaves")
	}
	t.Parallel()
	bin := buildDaemons(t)
	o := NewOptions()
	o.Local, o.BinDir, o.Quiet = true, bin, true
	o.Algorithms, o.Slaves = []string{"round_robin"}, make([]SlaveSpec, 2)
	o.Concurrency, o.Duration = 2, time.Minute
	o.LogDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the cluster is up and loaded.
		for ctx.Err() == nil {
			if logs, _ := filepath.Glob(filepath.Join(o.LogDir, "*slave2.log")); len(logs) > 0 {
				time.Sleep(time.Second)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer cancel()
	start := time.Now()
	var stdout, stderr strings.Builder
	_, err := Run(ctx, o, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Run = %v, want the cancellation", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("stopping took %s", took)
	}
	if left := running(t, bin); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}

// TestLocalLabUserTask loads a slave's own task (issue 16) through -mix: a
// slave offering sha256sum as "sha", requests /sha?input=, every answer a
// 200 whose input length is the one sent.
func TestLocalLabUserTask(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real masters and slaves")
	}
	t.Parallel()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skipf("no sha256sum: %v", err)
	}
	bin := buildDaemons(t)
	o := NewOptions()
	o.Local, o.BinDir, o.Quiet = true, bin, true
	o.Algorithms, o.Slaves = []string{"least_load"}, make([]SlaveSpec, 1)
	o.SlaveArgs = []string{"-task", "name=sha,exec=sha256sum"}
	var err error
	if o.Mix, err = ParseMix("sha:hello%2C world"); err != nil {
		t.Fatal(err)
	}
	o.Concurrency, o.Requests, o.Duration = 2, 20, 0
	var stdout, stderr strings.Builder
	r, err := Run(context.Background(), o, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	if res := r.Results[0]; res.Completed != 20 || len(res.Errors) != 0 {
		t.Errorf("%d of 20 completed, errors %v", res.Completed, res.Errors)
	}
	if want := `100% sha input="hello, world"`; !strings.Contains(stdout.String(), want) {
		t.Errorf("the table lacks %q:\n%s", want, stdout.String())
	}
}
