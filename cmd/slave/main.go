// Command slave runs a worker that finds the master by UDP broadcast.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/logger"
	slave "github.com/lbproject/loadbalancer/slave_src"
)

func main() {
	cli.Run("slave", run)
}

func run(ctx context.Context) error {
	o := slave.NewOptions()
	fs := flag.NewFlagSet("slave", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: slave [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	cli.JoinFlags(fs, &o.Iface, &o.Master, &o.DiscoveryPort)
	fs.Uint64Var(&o.MaxLoad, "max-load", o.MaxLoad, "most committed load accepted (fibonacci n costs n, primes n costs n²)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "most tasks computing at once (default: one per core; 0: no cap); admitted tasks beyond it wait their turn")
	fs.StringVar(&o.LoadMetric, "load-metric", o.LoadMetric, "how the reported load is computed from the committed load: "+strings.Join(slave.LoadMetricNames(), ", "))
	fs.Var(&o.LinkPorts, "link-ports", "FIRST-LAST: TCP ports the three link listeners (and /metrics, without -metrics-addr) take, the lowest free ones; default: any free port")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "address of /metrics; default: the interface address, a port from -link-ports or any free port")
	fs.StringVar(&o.TargetDir, "sd-dir", o.TargetDir, "directory where the slave publishes its /metrics endpoint for Prometheus file_sd (skipped when missing)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "on SIGTERM or Ctrl-C, how long to finish the tasks held before leaving (a second signal stops at once)")
	fs.DurationVar(&o.LinkTimeout, "link-timeout", o.LinkTimeout, "how long to wait for the master to open the links after its ACK")
	procs := fs.Int("procs", 0, "cores the slave's Go runtime computes on (GOMAXPROCS); 0: the host's cores shared evenly among the slaves running on it, followed as slaves come and go ($GOMAXPROCS if set)")
	secret := cli.SecretFlag(fs)
	level := fs.String("log-level", "info", "log level: "+strings.Join(logger.Levels, ", "))
	args, err := cli.Parse(fs, os.Args[1:])
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	if o.MaxLoad == 0 {
		return fmt.Errorf("-max-load must be positive")
	}
	if o.Workers < 0 {
		return fmt.Errorf("-workers must not be negative")
	}
	if *procs < 0 {
		return fmt.Errorf("-procs must not be negative")
	}
	o.Secret = cli.Secret(*secret)
	if o.Log, err = logger.New("slave", os.Stderr, *level); err != nil {
		return err
	}
	s, err := slave.New(o)
	if err != nil {
		return err
	}
	stop := shareCores(*procs, o.Log)
	defer stop()
	return s.Run(ctx)
}

// shareCores sets GOMAXPROCS to procs, or with procs 0 and no $GOMAXPROCS
// keeps it at this slave's share of the host's cores, and counts this slave
// for the others on the host until stop is called: after the slave has
// drained its tasks, not when it is told to stop.
func shareCores(procs int, log *logger.Logger) (stop func()) {
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	env, err := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	auto := procs == 0 && (err != nil || env < 1) // the runtime ignores such a $GOMAXPROCS too
	share, err := slave.JoinCoreShare(slave.DefaultCoreShareDir(), auto, log)
	if err != nil {
		log.Warning("not counted among the slaves on this host, which may oversubscribe its cores", "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		share.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
