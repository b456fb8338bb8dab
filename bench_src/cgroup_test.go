package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A slave's cpu= quota is a cgroup holding it with that quota, removed
// after it exits. Needs root and a cgroup CPU controller: under CI=true
// their absence fails the test.
func TestCPUQuota(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI=true, so this is a failure, not a skip)")
		}
		t.Skip("needs root")
	}
	q, err := newCPUQuotas()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			stopped = true
		}
	}
	defer stop()
	if err := q.limit("s1", cmd.Process.Pid, 0.25); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(q.root, "s1")
	file, want := "cpu.cfs_quota_us", "25000"
	if q.v2 {
		file, want = "cpu.max", "25000 100000"
	}
	if got, _ := os.ReadFile(filepath.Join(dir, file)); strings.TrimSpace(string(got)) != want {
		t.Errorf("%s = %q, want %q", file, got, want)
	}
	if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); !strings.Contains(string(procs), strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("the process is not in its cgroup: cgroup.procs %q", procs)
	}
	stop()
	if err := q.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(q.root); !os.IsNotExist(err) {
		t.Errorf("the lab's cgroup %s is left: %v", q.root, err)
	}
}
