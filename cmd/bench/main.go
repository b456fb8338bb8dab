// Command bench is the algorithm lab: it loads masters with a workload and
// compares the load-balancing algorithms. See bench -h.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	bench "github.com/lbproject/loadbalancer/bench_src"
	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/logger"
)

func main() {
	cli.Run("bench", run)
}

const usageHead = `usage: bench -local [flags]                       start a cluster per algorithm on loopback and compare them
       bench -target http://127.0.0.1:4242 [flags]   load a running master
       bench -sim [flags]                            simulate the algorithms (bench -sim -h)

Per algorithm it reports throughput (answered/s), p50/p95/p99/max latency, errors by
status, each slave's share of the tasks and of the busy time (the slave's compute_ms
of its tasks) and the imbalance (max/mean busy time across slaves; 1 is even): a
Markdown table on stdout, and with -out a JSON file, with -chart a PNG or SVG chart
(latency CDF per algorithm, load per slave over time).

-local runs, for each algorithm in turn, a master (-iface lo -http 127.0.0.1:PORT,
discovery on a free UDP port) and the -slaves (-iface lo), waits for them to join,
runs the workload and stops them all (SIGTERM, then SIGKILL; also on Ctrl-C). The
master and slave binaries are taken from -bin, by default the directory of bench,
then the current directory. Everything stays on loopback.

-target refuses hosts that are not loopback unless -allow-remote is given: that is
for a LAN of your own machines, never for someone else's.

-slaves is a count (3: three slaves with their defaults) or slave descriptions
separated by ";", each key=value pairs separated by ",", optionally "N*" to repeat:
    -slaves "max-load=1e11,workers=2;2*max-load=5e10,workers=1"
  keys: max-load (slave -max-load; 1e11 notation accepted), workers (slave -workers;
  0: no cap), cpu (a CPU quota in cores, by cgroup v2 cpu.max or v1 cfs quota: root
  only), speed (slave -speed, for -emulate); any other key is passed to the slave as -key=value, except the flags
  the lab sets itself (iface, master, discovery-port, metrics-addr, sd-dir, secret,
  log-level). The table names the slaves s1, s2, ... in this order.

Workloads (-workload):
  uniform   fibonacci n=30
  mixed     95% fibonacci n=30 + 5% primes n=20000 (heavy-tailed)
  bursty    the mixed requests in bursts (-burst ON/OFF, default 1s/1s)
  -mix "task:n:weight,..." replaces the requests, e.g. -mix primes:5000
  -mix "NAME:INPUT[:weight]" sends a slave's own task as /NAME?input=INPUT
       (INPUT percent-encoded where it holds : , or %), e.g. with -local
       -slave-flags "-task name=sha,exec=sha256sum" -mix "sha:hello"
Emulated work (-emulate exp:50ms): /work requests whose service times are drawn
from the distribution, on slaves started with -emulate (speed=F divides them);
-load ρ sets the open-loop rate to ρ × the pool's capacity (Σ workers × speed / mean),
-loads 0.5,0.8,0.95 -rounds 2 sweeps the loads (p99 against load in -chart), and
the JSON's "algorithms" list gives times in system in units of the mean service time.
Closed loop: -c requests in flight. Open loop: -rate per second, Poisson arrivals,
each request timed from when it was due (no coordinated omission), at most
-max-outstanding in flight: a request due beyond that is dropped and counted as an
error. Each algorithm runs for -duration and/or -n requests, with the same seeded
request sequence (-seed). Every 200 answer is checked against the right result.

flags:
`

func run(ctx context.Context) error {
	if isSim(os.Args[1:]) {
		return runSim(os.Args[1:], os.Stdout)
	}
	o := bench.NewOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nexample:\n  bench -local -workload mixed -slaves \"max-load=1e11,workers=2;max-load=5e10,workers=1;max-load=2e10,workers=1\" \\\n"+
			"        -duration 8s -out lab.json -chart lab.png\n")
	}
	fs.BoolVar(&o.Local, "local", o.Local, "start a master per algorithm and the slaves on loopback")
	fs.StringVar(&o.Target, "target", o.Target, "base URL of a running master, e.g. http://127.0.0.1:4242 (loopback unless -allow-remote)")
	fs.BoolVar(&o.AllowRemote, "allow-remote", o.AllowRemote, "let -target be off loopback (a LAN you run)")
	fs.StringVar(&o.BinDir, "bin", o.BinDir, "directory of the master and slave binaries (default: bench's directory, then .)")
	fs.Func("algorithms", fmt.Sprintf("comma-separated algorithms to compare, with -local (default %s)", strings.Join(o.Algorithms, ",")),
		func(v string) (err error) { o.Algorithms, err = bench.ParseAlgorithms(v); return err })
	fs.Func("slaves", "the pool started for each algorithm, with -local: a count or descriptions, see above (default 3)",
		func(v string) (err error) { o.Slaves, err = bench.ParseSlaves(v); return err })
	fs.Func("master-flags", "extra flags for every master, e.g. \"-poll-interval 250ms\"",
		func(v string) error {
			o.MasterArgs = strings.Fields(v)
			return bench.CheckExtraArgs("master", o.MasterArgs)
		})
	fs.Func("slave-flags", "extra flags for every slave, e.g. \"-drain-timeout 1s\"",
		func(v string) error {
			o.SlaveArgs = strings.Fields(v)
			return bench.CheckExtraArgs("slave", o.SlaveArgs)
		})
	fs.StringVar(&o.Workload, "workload", o.Workload, "uniform, mixed or bursty")
	fs.Func("mix", "custom requests task:n:weight or NAME:INPUT:weight (a slave's own task), ... replacing the workload's",
		func(v string) (err error) { o.Mix, err = bench.ParseMix(v); return err })
	fs.Func("burst", fmt.Sprintf("bursty workload: traffic ON, then pause OFF (default %s/%s)", o.Burst.On, o.Burst.Off),
		func(v string) (err error) { o.Burst, err = parseBurst(v); return err })
	fs.Func("emulate", "emulated work instead of -workload: /work requests with service times exp:MEAN, const:MEAN or pareto:MEAN,ALPHA (slaves get -emulate)",
		func(v string) error {
			svc, err := bench.ParseService(v)
			o.Emulate = &svc
			return err
		})
	fs.Float64Var(&o.Load, "load", o.Load, "with -local -emulate: open loop at ρ times the pool's capacity (Σ workers × speed / mean service)")
	var loads []float64
	fs.Func("loads", "with -local -emulate: sweep these ρ values (e.g. 0.5,0.8,0.95), every algorithm at each, -rounds times; -out and -chart get the sweep",
		func(v string) (err error) { loads, err = bench.ParseLoads(v); return err })
	rounds := fs.Int("rounds", 1, "with -loads: rounds, each with its own seed (-seed + round) and the algorithm order rotated")
	fs.IntVar(&o.Concurrency, "c", o.Concurrency, "closed loop: requests in flight")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "open loop: requests per second, Poisson arrivals (replaces -c)")
	fs.IntVar(&o.MaxOutstanding, "max-outstanding", o.MaxOutstanding, "open loop: most requests in flight; beyond, a request is dropped (an error)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long each algorithm is loaded (0: only -n bounds it)")
	fs.IntVar(&o.Requests, "n", o.Requests, "most requests per algorithm (0: only -duration bounds it)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the request sequence and arrival times")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on each request")
	fs.DurationVar(&o.JoinTimeout, "join-timeout", o.JoinTimeout, "-local: bound on a cluster's start (master up, every slave joined)")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", o.StopTimeout, "-local: grace between SIGTERM and SIGKILL")
	fs.DurationVar(&o.Bucket, "bucket", o.Bucket, "time resolution of the load-per-slave series")
	fs.StringVar(&o.Out, "out", o.Out, "write the results as JSON to this file")
	fs.StringVar(&o.Chart, "chart", o.Chart, "draw the chart to this file (.png or .svg)")
	fs.StringVar(&o.LogDir, "log-dir", o.LogDir, "-local: keep the daemons' logs here (default: a temporary directory, kept only on failure)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "-local: the daemons' log level: "+strings.Join(logger.Levels, ", "))
	fs.BoolVar(&o.Quiet, "quiet", o.Quiet, "no progress on stderr (the bar is shown only on a terminal)")
	args, err := cli.Parse(fs, os.Args[1:])
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q (run bench -h for help)", args)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rate"] && !set["c"] {
		o.Concurrency = 0 // -rate alone means the open loop
	}
	if o.Target != "" && set["algorithms"] {
		return fmt.Errorf("-algorithms is for -local: a running master has its own")
	}
	o.Command = commandLine(os.Args)
	if loads != nil {
		_, err = bench.RunSweep(ctx, o, loads, *rounds, os.Stdout, os.Stderr)
		return err
	}
	_, err = bench.Run(ctx, o, os.Stdout, os.Stderr)
	return err
}

// parseBurst reads ON/OFF, e.g. 1s/2s.
func parseBurst(s string) (bench.Burst, error) {
	on, off, ok := strings.Cut(s, "/")
	if !ok {
		return bench.Burst{}, fmt.Errorf("want ON/OFF durations, e.g. 1s/1s, got %q", s)
	}
	b := bench.Burst{}
	var err error
	if b.On, err = time.ParseDuration(on); err != nil || b.On <= 0 {
		return b, fmt.Errorf("ON must be a positive duration, got %q", on)
	}
	if b.Off, err = time.ParseDuration(off); err != nil || b.Off < 0 {
		return b, fmt.Errorf("OFF must be a duration ≥ 0, got %q", off)
	}
	return b, nil
}

// commandLine renders argv for the record, quoting what a shell would need.
func commandLine(argv []string) string {
	parts := []string{"./bench"}
	for _, a := range argv[1:] {
		if a == "" || strings.ContainsAny(a, " \t;&|<>()$`\\\"'*?[]#~!{}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
