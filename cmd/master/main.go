// Command master runs the load balancer's master: ./master [algorithm].
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/httpauth"
	"github.com/lbproject/loadbalancer/common/logger"
	master "github.com/lbproject/loadbalancer/master_src"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

func main() {
	cli.Run("master", run)
}

func run(ctx context.Context) error {
	o := master.NewOptions()
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: master [flags] [algorithm]\n\nalgorithms: %s (default %s)\n\nflags:\n",
			strings.Join(balance.Names(), ", "), balance.Default)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.HTTPAddr, "http", o.HTTPAddr, "address of the HTTP API")
	fs.StringVar(&o.DiscoveryAddr, "discovery", o.DiscoveryAddr, "UDP address where slaves' join requests arrive")
	fs.StringVar(&o.Iface, "iface", o.Iface, "only hear join requests on this interface (e.g. lo); default: all")
	fs.IntVar(&o.MaxSlaves, "max-slaves", o.MaxSlaves, "most slaves in the pool")
	fs.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "how often each slave's load is polled")
	fs.DurationVar(&o.PollTimeout, "poll-timeout", o.PollTimeout, "a slave that leaves a poll unanswered this long is removed")
	fs.DurationVar(&o.JoinTimeout, "join-timeout", o.JoinTimeout, "bound on a join, from ACK to the slave in the pool")
	fs.DurationVar(&o.MonitorTimeout, "monitor-timeout", o.MonitorTimeout, "free the monitor slot when the monitor has asked nothing for this long")
	fs.IntVar(&o.QueueLength, "queue-length", o.QueueLength, "most requests waiting for a slave with room")
	fs.IntVar(&o.ClientMaxQueued, "client-max-queued", o.ClientMaxQueued, "most requests of one client (source address) waiting for room before 429; 0: no cap")
	fs.DurationVar(&o.QueueWait, "queue-wait", o.QueueWait, "how long a request waits for a slave with room before 503")
	fs.DurationVar(&o.TaskTimeout, "task-timeout", o.TaskTimeout, "how long a dispatched task may take before 504")
	fs.BoolVar(&o.FreeWorkers, "free-workers", o.FreeWorkers, "prefer a slave with a free worker, by the workers slaves report (false: place as if they reported none)")
	fs.DurationVar(&o.SlowStart, "slow-start", o.SlowStart, "a slave that joins warms up to its full share of tasks over this span (0: off)")
	fs.IntVar(&o.MaxAttempts, "max-attempts", o.MaxAttempts, "most slaves a task is sent to when slaves die under it")
	fs.DurationVar(&o.TryTimeoutFloor, "try-timeout-floor", o.TryTimeoutFloor, "least per-try timeout before a slow task is also sent to a second slave")
	fs.IntVar(&o.EjectAfter, "eject-after", o.EjectAfter, "eject a slave after this many tries in a row timed out or failed (0: never)")
	fs.DurationVar(&o.EjectBase, "eject-base", o.EjectBase, "an ejected slave is out for this long times the number of its ejections")
	fs.IntVar(&o.EjectMaxPercent, "eject-max-percent", o.EjectMaxPercent, "most of the pool ejected at once, in percent")
	fs.IntVar(&o.SlaveMaxUnfinished, "slave-max-unfinished", o.SlaveMaxUnfinished, "most unfinished tasks per slave, at least 4 per worker (0: no bound)")
	fs.Float64Var(&o.HandshakeRate, "handshake-rate", o.HandshakeRate, "handshake packets handled per second per source IP (more are dropped)")
	fs.IntVar(&o.HandshakeBurst, "handshake-burst", o.HandshakeBurst, "burst of handshake packets allowed per source IP")
	procs := fs.Int("procs", defaultProcs(), "cores the master's Go runtime runs on (GOMAXPROCS); default half the cores, at least 1")
	httpauth.Flags(fs, &o.HTTP)
	secret := cli.SecretFlag(fs)
	level := fs.String("log-level", "info", "log level: "+strings.Join(logger.Levels, ", "))
	args, err := cli.Parse(fs, os.Args[1:])
	if err != nil {
		return err
	}
	switch len(args) {
	case 0:
	case 1:
		o.Algorithm = args[0]
	default:
		return cli.Usagef("one algorithm at most, got %q", args)
	}
	if *procs < 1 {
		return cli.Usagef("-procs must be at least 1, got %d", *procs)
	}
	runtime.GOMAXPROCS(*procs)
	o.Secret = cli.Secret(*secret)
	o.HTTP.Resolve()
	if o.Log, err = logger.New("master", os.Stderr, *level); err != nil {
		return config.Invalid(err)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	cli.Tune(ctx, "master") // after the checks: -h, -version and mistakes exit without a restart
	m, err := master.New(o)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// defaultProcs is half the cores the process may use (runtime.GOMAXPROCS
// follows a container's CPU limit), at least 1, unless GOMAXPROCS is set.
// The master mostly waits on the network: the kernel's network stack needs
// the other cores, and every idle Go thread woken to look for work is a
// thread switch. On 2 cores with 64 requests in flight, one core served
// 20-40% more requests per second than two, for less CPU per request.
func defaultProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}
