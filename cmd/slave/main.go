// Command slave runs a worker that finds the master by UDP broadcast.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/logger"
	slave "github.com/lbproject/loadbalancer/slave_src"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
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
	fs.BoolVar(&o.Emulate, "emulate", o.Emulate, "run emulated tasks (/work?n=MICROSECONDS: a wait, not CPU); others refuse them")
	fs.Float64Var(&o.Speed, "speed", o.Speed, "divide every emulated task's service time by this (-emulate)")
	fs.StringVar(&o.LoadMetric, "load-metric", o.LoadMetric, "how the reported load is computed from the committed load: "+strings.Join(slave.LoadMetricNames(), ", "))
	fs.Var(&o.LinkPorts, "link-ports", "FIRST-LAST: TCP ports the three link listeners (and /metrics, without -metrics-addr) take, the lowest free ones; default: any free port")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "address of /metrics; default: the interface address, a port from -link-ports or any free port")
	fs.StringVar(&o.TargetDir, "sd-dir", o.TargetDir, "directory where the slave publishes its /metrics endpoint for Prometheus file_sd (skipped when missing)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "on SIGTERM or Ctrl-C, how long to finish the tasks held before leaving (a second signal stops at once)")
	fs.DurationVar(&o.LinkTimeout, "link-timeout", o.LinkTimeout, "how long to wait for the master to open the links after its ACK")
	fs.IntVar(&o.Procs, "procs", o.Procs, "cores the slave's Go runtime computes on (GOMAXPROCS); 0: the host's cores shared evenly among the slaves running on it, followed as slaves come and go ($GOMAXPROCS if set)")
	fs.Func("task", "an operator's task, repeatable: name=NAME,exec=PROGRAM ARG...|http=URL[,load=N|per-byte|N/byte][,max-input=SIZE][,max-output=SIZE][,timeout=DURATION][,workers=N]; CSV-quote a value holding a comma (README: Your own tasks)", func(v string) error {
		sp, err := usertask.ParseSpec(v)
		o.Tasks = append(o.Tasks, sp)
		return err
	})
	fs.StringVar(&o.TasksFile, "tasks", o.TasksFile, "JSON file listing more tasks, objects with -task's keys; re-read on SIGHUP")
	secret := cli.SecretFlag(fs)
	level := fs.String("log-level", "info", "log level: "+strings.Join(logger.Levels, ", "))
	args, err := cli.Parse(fs, os.Args[1:])
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return cli.Usagef("unexpected arguments %q", args)
	}
	o.Secret, o.ShareCores = cli.Secret(*secret), true
	if o.Log, err = logger.New("slave", os.Stderr, *level); err != nil {
		return config.Invalid(err)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	cli.Tune(ctx, "slave") // after the checks: -h, -version and mistakes exit without a restart
	s, err := slave.New(o)
	if err != nil {
		return err
	}
	return runReloading(ctx, s, o.Log)
}

// runReloading runs s, re-reading its -tasks file on every SIGHUP.
func runReloading(ctx context.Context, s *slave.Slave, log *logger.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := s.ReloadTasks(); err != nil {
					log.Error("SIGHUP", "err", err)
				}
			}
		}
	})
	return s.Run(ctx)
}
