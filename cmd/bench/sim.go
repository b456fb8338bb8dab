package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	bench "github.com/lbproject/loadbalancer/bench_src"
	"github.com/lbproject/loadbalancer/common/cli"
)

const simUsageHead = `usage: bench -sim [flags]     simulate the algorithms over a pool of queues

A discrete-event simulation on the master's own algorithm code (master_src/balance):
-slaves FIFO queues with -workers workers each at a speed from -speeds (cycled over
the slaves), Poisson arrivals at -load ρ of the pool's capacity (Σ workers × speed /
mean service), service times from -service (divided by the slave's speed), a load
report from every slave every -report-every, and the master's own count of the
tasks it placed and has not seen finish (-own-counts=false: reports only). Times in
system are in units of the mean service time and in seconds; the first tenth of the
tasks is warm-up, not counted. Deterministic for a -seed. Nothing touches the network.

flags:
`

// isSim reports whether argv asks for the simulator.
func isSim(args []string) bool {
	for _, a := range args {
		if a == "-sim" || a == "--sim" || a == "-sim=true" || a == "--sim=true" {
			return true
		}
	}
	return false
}

func runSim(args []string, stdout io.Writer) error {
	o := bench.NewSimOptions()
	fs := flag.NewFlagSet("bench -sim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simUsageHead)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nexample:\n  bench -sim -slaves 1000 -speeds 4,2,1,1 -load 0.9 -service exp:50ms -report-every 500ms -out sim.json\n")
	}
	var out string
	fs.Bool("sim", true, "run the simulator")
	fs.IntVar(&o.Slaves, "slaves", o.Slaves, "number of simulated slaves (1 to 10,000)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "workers per slave")
	fs.Func("speeds", "slave speeds, cycled over the slaves (default 4,2,1,1)",
		func(v string) (err error) { o.Speeds, err = bench.ParseSpeeds(v); return err })
	fs.Float64Var(&o.Load, "load", o.Load, "ρ: arrival rate as a fraction of the pool's capacity (0 < ρ < 1)")
	fs.Func("service", "service time distribution: exp:MEAN, const:MEAN or pareto:MEAN,ALPHA (default "+o.Service.String()+")",
		func(v string) (err error) { o.Service, err = bench.ParseService(v); return err })
	fs.DurationVar(&o.ReportEvery, "report-every", o.ReportEvery, "interval of the slaves' load reports (their staleness)")
	fs.IntVar(&o.Tasks, "tasks", o.Tasks, "tasks per algorithm")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the arrivals, service times and algorithms' draws")
	fs.Func("algorithms", fmt.Sprintf("comma-separated algorithms (default %s)", strings.Join(o.Algorithms, ",")),
		func(v string) (err error) { o.Algorithms, err = bench.ParseAlgorithms(v); return err })
	fs.BoolVar(&o.FreeWorkers, "free-workers", o.FreeWorkers, "the master knows each slave's workers, and every algorithm prefers a slave with a free worker, as the real master does")
	fs.BoolVar(&o.OwnCounts, "own-counts", o.OwnCounts, "the master counts its own placements, as the real master does (false: it knows only the reports)")
	fs.StringVar(&out, "out", "", "write the results as JSON to this file")
	rest, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q (run bench -sim -h for help)", rest)
	}
	_, err = bench.RunSim(o, commandLine(os.Args), stdout, out)
	return err
}
