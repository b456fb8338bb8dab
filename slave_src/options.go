// Package slave is the worker daemon: it finds a master by UDP broadcast,
// accepts the master's three TCP links, reports its load and runs tasks.
package slave

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/constants"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

// Options configures a slave. NewOptions gives the defaults.
type Options struct {
	// Iface names the interface to use; empty means the first up,
	// non-loopback IPv4 interface with a broadcast address.
	Iface string
	// Master, as HOST:PORT, skips the broadcast and joins that master.
	Master string
	// DiscoveryPort is the master's UDP port, used with the broadcast.
	DiscoveryPort int
	// MaxLoad is the most committed load the slave accepts.
	MaxLoad uint64
	// Workers caps how many tasks compute at once (0: no cap); admitted
	// tasks beyond it wait their turn. The default, one per core, also keeps
	// the load link answering at once under a flood of tasks: thousands of
	// computing goroutines would starve it and get the slave taken for dead.
	Workers int
	// LinkPorts is where the three link listeners take their ports, and
	// the metrics listener too when MetricsAddr is empty; the zero range
	// means ephemeral ports.
	LinkPorts PortRange
	// MetricsAddr is where /metrics is served; empty means the interface
	// address on a port from LinkPorts (or an ephemeral one).
	MetricsAddr string
	// TargetDir is where the slave publishes its metrics endpoint for the
	// host's Prometheus (file_sd); New makes it absolute. Looked for every
	// 5 s while the directory does not exist; empty: never published.
	TargetDir string

	// JoinFirstWait and JoinMaxWait bound the join retry back-off.
	JoinFirstWait time.Duration
	JoinMaxWait   time.Duration
	// ConfirmBurst is how many confirm packets follow the master's ACK.
	ConfirmBurst int
	// LinkTimeout bounds the wait for the master to open all three links.
	LinkTimeout time.Duration
	// MissedPolls is how many poll intervals without a load request end
	// the session with the master.
	MissedPolls int
	// DrainTimeout bounds how long a stopping slave waits for its tasks.
	DrainTimeout time.Duration

	// ShareCores, for the daemon (never in-process slaves: GOMAXPROCS is the
	// process's), counts this slave among those of its host and, with Procs
	// 0 and no $GOMAXPROCS, keeps GOMAXPROCS at its share of the cores.
	ShareCores bool
	// Procs, when positive, fixes GOMAXPROCS (with ShareCores).
	Procs int
	// Emulate lets the slave run emulated tasks (tasks.Task.Emulated),
	// whose service time it divides by Speed: the lab hosts slaves of
	// unequal speed on one machine.
	Emulate bool
	Speed   float64

	// Tasks are the operator's own tasks (-task), TasksFile a JSON list of
	// more (-tasks), re-read by ReloadTasks (slave_src/usertask).
	Tasks     []usertask.Spec
	TasksFile string

	// LoadMetric names how the reported load is computed from the
	// committed load (loadmetric.go).
	LoadMetric string
	// CPUFraction, when set, replaces the load metric's factor (tests).
	CPUFraction func() (float64, error)
	// Secret, when set, authenticates every handshake packet (HMAC); all
	// nodes of a cluster must share it.
	Secret string
	Log    *logger.Logger
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		DiscoveryPort: constants.DiscoveryPort,
		MaxLoad:       DefaultMaxLoad,
		Workers:       runtime.NumCPU(),
		Speed:         1,
		LoadMetric:    DefaultLoadMetric,
		TargetDir:     DefaultTargetDir,
		JoinFirstWait: 250 * time.Millisecond,
		JoinMaxWait:   2 * time.Second,
		ConfirmBurst:  10,
		LinkTimeout:   5 * time.Second,
		MissedPolls:   3,
		DrainTimeout:  30 * time.Second,
		Log:           logger.Discard(),
	}
}

// Validate checks o, as New does first; its errors are configuration
// mistakes (config.Invalid).
func (o Options) Validate() error {
	var err error
	switch {
	case o.MaxLoad == 0:
		err = errors.New("max load must be positive")
	case o.Workers < 0:
		err = fmt.Errorf("workers must not be negative, got %d", o.Workers)
	case !(o.Speed > 0) || math.IsInf(o.Speed, 0):
		err = errors.New("speed must be a positive number")
	case o.Procs < 0:
		err = fmt.Errorf("procs must not be negative, got %d", o.Procs)
	case o.DiscoveryPort < 1 || o.DiscoveryPort > 65535:
		err = fmt.Errorf("discovery port must be 1-65535, got %d", o.DiscoveryPort)
	case o.JoinFirstWait <= 0 || o.JoinMaxWait < o.JoinFirstWait:
		err = errors.New("join waits must be positive, the first no longer than the most")
	case o.ConfirmBurst < 1 || o.MissedPolls < 1:
		err = errors.New("confirm burst and missed polls must be at least 1")
	case o.LinkTimeout <= 0 || o.DrainTimeout < 0:
		err = errors.New("link timeout must be positive and drain timeout not negative")
	case o.CPUFraction == nil && !slices.Contains(LoadMetricNames(), o.LoadMetric):
		err = fmt.Errorf("unknown load metric %q: valid ones are %s", o.LoadMetric, strings.Join(LoadMetricNames(), ", "))
	}
	if err != nil {
		return config.Invalid(err)
	}
	return nil
}

// DefaultTargetDir is where `make slave_preproc` points Prometheus, relative
// to the directory the slave starts in (the checkout); the systemd units
// pass /var/lib/loadbalancer/targets instead.
const DefaultTargetDir = ".lb/prometheus/targets"

// DefaultMaxLoad admits ten concurrent /primes?n=100000 (load 10^10 each) or
// two of the largest, and any reasonable number of Fibonacci tasks.
const DefaultMaxLoad = 100_000_000_000
