// Package bench is the algorithm lab: it loads a master with a chosen
// workload (closed or open loop) and reports, per algorithm, throughput,
// latency percentiles, errors and how the work spread over the slaves, as a
// Markdown table, a JSON file and a chart. With Local it starts a master per
// algorithm and a pool of slaves on loopback itself.
package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/master_src/balance"
)

// Options configures a lab run. NewOptions gives the defaults.
type Options struct {
	// Local starts a master per algorithm and the Slaves on loopback;
	// otherwise Target is the base URL of a running master.
	Local  bool
	Target string
	// AllowRemote lets Target be off loopback (a LAN you run).
	AllowRemote bool

	// BinDir holds the master and slave binaries; empty: the directory of
	// the running executable, then the current directory.
	BinDir string
	// Algorithms to compare, run one after the other (Local only).
	Algorithms []string
	// Slaves is the pool started for each algorithm (Local only).
	Slaves []SlaveSpec
	// MasterArgs and SlaveArgs are extra flags for every master and slave.
	MasterArgs, SlaveArgs []string

	// Workload names a built-in workload; Mix, when set, replaces its
	// requests; Burst shapes the bursty one.
	Workload string
	Mix      []Item
	Burst    Burst
	// Pace applies to each algorithm's run.
	Pace
	// Emulate, when set, replaces the workload with emulated requests
	// (/work) whose service times it draws; the slaves get -emulate.
	Emulate *Service
	// Load, when set (Local and Emulate), is ρ: the open loop's rate is Load
	// times the pool's capacity, Σ workers × speed / mean service time.
	Load float64

	// JoinTimeout bounds a cluster's start; StopTimeout is the grace
	// between SIGTERM and SIGKILL.
	JoinTimeout time.Duration
	StopTimeout time.Duration
	// Bucket is the time resolution of the load-over-time series.
	Bucket time.Duration

	// Out and Chart are output files ("" for none).
	Out   string
	Chart string
	// LogDir receives the daemons' logs; empty: a temporary directory,
	// removed unless something failed. LogLevel is the daemons' -log-level.
	LogDir   string
	LogLevel string
	// Quiet silences progress on stderr.
	Quiet bool
	// Command is the command line, recorded in the JSON.
	Command string
}

// NewOptions returns the defaults: the mixed workload, 16 in flight, 10 s
// per algorithm, every algorithm the master knows, three default slaves.
func NewOptions() Options {
	return Options{
		Algorithms: balance.Names(),
		Slaves:     make([]SlaveSpec, 3),
		Workload:   "mixed",
		Burst:      Burst{On: time.Second, Off: time.Second},
		Pace: Pace{
			Concurrency:    16,
			MaxOutstanding: 1024,
			Duration:       10 * time.Second,
			Seed:           1,
			Timeout:        30 * time.Second,
		},
		JoinTimeout: 15 * time.Second,
		StopTimeout: 5 * time.Second,
		Bucket:      time.Second,
		LogLevel:    "warning",
	}
}

// ParseAlgorithms reads a comma-separated list and checks every name
// against the master's.
func ParseAlgorithms(s string) ([]string, error) {
	valid := balance.Names()
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !slices.Contains(valid, a) {
			return nil, fmt.Errorf("unknown algorithm %q: the master knows %s", a, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no algorithm given")
	}
	return out, nil
}

func (o *Options) validate() error {
	switch {
	case o.Local && o.Target != "":
		return errors.New("-local and -target exclude each other")
	case !o.Local && o.Target == "":
		return errors.New("give -local (start a cluster on loopback) or -target http://127.0.0.1:4242 (a running master)")
	case o.Local && len(o.Algorithms) == 0:
		return errors.New("no algorithm to run")
	case o.Local && len(o.Slaves) == 0:
		return errors.New("no slaves")
	case o.Load != 0 && (o.Emulate == nil || !o.Local):
		return errors.New("-load needs -local and -emulate: the pool's capacity is known only for emulated work")
	case o.Load < 0 || o.Load >= 1.5:
		return fmt.Errorf("-load %g: ρ must be above 0 (and below 1.5, a bound on the overload)", o.Load)
	case o.Bucket <= 0:
		return errors.New("-bucket must be positive")
	case o.JoinTimeout <= 0 || o.StopTimeout <= 0:
		return errors.New("-join-timeout and -stop-timeout must be positive")
	}
	if err := CheckExtraArgs("master", o.MasterArgs); err != nil {
		return err
	}
	if err := CheckExtraArgs("slave", o.SlaveArgs); err != nil {
		return err
	}
	if o.Chart != "" {
		if ext := strings.ToLower(filepath.Ext(o.Chart)); ext != ".png" && ext != ".svg" {
			return fmt.Errorf("-chart %q: the name must end in .png or .svg", o.Chart)
		}
	}
	return nil
}

// binaries finds the master and slave executables.
func (o *Options) binaries() (masterBin, slaveBin string, err error) {
	dirs := []string{o.BinDir}
	if o.BinDir == "" {
		dirs = nil
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
		dirs = append(dirs, ".")
	}
	for _, d := range dirs {
		m, s := filepath.Join(d, "master"), filepath.Join(d, "slave")
		if isExecutable(m) && isExecutable(s) {
			return absolute(m), absolute(s), nil
		}
	}
	return "", "", fmt.Errorf("no master and slave executables in %s: run `make` or give -bin DIR", strings.Join(dirs, " or "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func absolute(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}
