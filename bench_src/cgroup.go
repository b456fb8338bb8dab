package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cpuQuotas holds slaves to a CPU quota, so that slaves on one host differ
// in real speed for the CPU tasks: a cgroup per slave below one of the
// lab's own, with cgroup v2's cpu.max or v1's cpu.cfs_quota_us. A slave
// runs unlimited for the moment between its start and its move.
type cpuQuotas struct {
	root string // the lab's cgroup directory
	v2   bool
	dirs []string // the slaves' cgroups, removed before root
}

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// quotaPeriodUS is the quota's accounting period.
const quotaPeriodUS = 100_000

func newCPUQuotas() (*cpuQuotas, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("a slave's cpu= quota needs root (it creates cgroups): run the lab as root, or drop cpu=")
	}
	name := fmt.Sprintf("lb-bench-%d", os.Getpid())
	q := &cpuQuotas{}
	switch {
	case exists(filepath.Join(cgroupRoot, "cgroup.controllers")):
		q.root, q.v2 = filepath.Join(cgroupRoot, name), true
	case exists(filepath.Join(cgroupRoot, "cpu", "cpu.cfs_quota_us")):
		q.root = filepath.Join(cgroupRoot, "cpu", name)
	default:
		return nil, fmt.Errorf("no cgroup CPU controller under %s (neither v2 cpu.max nor v1 cpu/cpu.cfs_quota_us): cpu= cannot be applied", cgroupRoot)
	}
	if err := os.Mkdir(q.root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the lab's cgroup: %w", err)
	}
	if q.v2 {
		// The children's cpu.max exists only once the controller is on for
		// them, and for the lab's cgroup from the root.
		for _, dir := range []string{cgroupRoot, q.root} {
			if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+cpu"); err != nil {
				_ = os.Remove(q.root)
				return nil, fmt.Errorf("enabling the cpu controller: %w", err)
			}
		}
	}
	return q, nil
}

// limit moves process pid into a cgroup of its own, named label, with a
// quota of cores CPUs.
func (q *cpuQuotas) limit(label string, pid int, cores float64) error {
	dir := filepath.Join(q.root, label)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("cgroup of %s: %w", label, err)
	}
	q.dirs = append(q.dirs, dir)
	quota := strconv.Itoa(max(int(cores*quotaPeriodUS), 1000)) // the kernel's minimum is 1 ms
	period := strconv.Itoa(quotaPeriodUS)
	var err error
	if q.v2 {
		err = writeFile(filepath.Join(dir, "cpu.max"), quota+" "+period)
	} else {
		err = errors.Join(writeFile(filepath.Join(dir, "cpu.cfs_period_us"), period),
			writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), quota))
	}
	if err == nil {
		err = writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid))
	}
	if err != nil {
		return fmt.Errorf("cpu quota of %s: %w", label, err)
	}
	return nil
}

// remove deletes the cgroups, once their processes have exited.
func (q *cpuQuotas) remove() error {
	var errs []error
	for i := len(q.dirs) - 1; i >= 0; i-- {
		errs = append(errs, os.Remove(q.dirs[i]))
	}
	errs = append(errs, os.Remove(q.root))
	return errors.Join(errs...)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
