package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Run runs the lab: for each algorithm (one after the other, so they do not
// share the CPU) a cluster (Local) or the target, the workload, a summary.
// It writes the Markdown table to stdout, progress to stderr, and the JSON
// and chart files when asked. When ctx ends (Ctrl-C) it stops what it
// started, reports the algorithms already done and returns ctx's error.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	var w *Workload
	var err error
	if o.Emulate != nil {
		w, err = NewEmulated(*o.Emulate)
		o.SlaveArgs = append(append([]string(nil), o.SlaveArgs...), "-emulate")
	} else {
		w, err = NewWorkload(o.Workload, o.Mix, o.Burst)
	}
	if err != nil {
		return nil, err
	}
	if o.Load > 0 {
		c, err := capacity(o.Slaves, o.Emulate.Mean.Seconds())
		if err != nil {
			return nil, err
		}
		o.Rate, o.Concurrency = o.Load*c, 0
	}
	lo := LoadOptions{Workload: w, Pace: o.Pace}
	if err := lo.validate(); err != nil {
		return nil, err
	}
	if lo.Answers, err = w.Answers(ctx); err != nil {
		return nil, err
	}
	r := &Report{Command: o.Command, Started: time.Now().UTC().Truncate(time.Second), Workload: w,
		Concurrency: o.Concurrency, Rate: o.Rate, DurationS: o.Duration.Seconds(), MaxRequests: o.Requests,
		Seed: o.Seed, CPUs: runtime.NumCPU()}
	if o.Concurrency == 0 {
		r.MaxOutstanding = o.MaxOutstanding
	}
	client := NewClient(max(o.Concurrency, o.MaxOutstanding, 16), o.AllowRemote)
	defer client.CloseIdleConnections()
	prog := NewProgress(stderr, o.Quiet)
	if o.Local {
		err = runLocal(ctx, o, lo, r, client, prog, stderr)
	} else {
		err = runTarget(ctx, o, lo, r, client, prog)
	}
	prog.Close()
	if o.Emulate != nil {
		r.Load = o.Load
		for _, res := range r.Results {
			r.Algorithms = append(r.Algorithms, emulatedTimes(res, o.Emulate.Mean.Seconds()))
		}
	}
	if len(r.Results) > 0 {
		if werr := r.output(o, stdout); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	return r, err
}

// output writes the table, the JSON file and the chart.
func (r *Report) output(o Options, stdout io.Writer) error {
	if err := r.WriteMarkdown(stdout); err != nil {
		return err
	}
	if o.Out != "" {
		if err := r.WriteJSON(o.Out); err != nil {
			return fmt.Errorf("writing %s: %w", o.Out, err)
		}
	}
	if o.Chart != "" {
		if err := WriteChart(r, o.Chart); err != nil {
			return fmt.Errorf("writing %s: %w", o.Chart, err)
		}
	}
	return nil
}

// runLocal runs every algorithm on a fresh cluster of its own.
func runLocal(ctx context.Context, o Options, lo LoadOptions, r *Report, client *http.Client, prog Progress, warn io.Writer) (err error) {
	masterBin, slaveBin, err := o.binaries()
	if err != nil {
		return err
	}
	if known := MasterAlgorithms(ctx, masterBin); known != nil {
		for _, a := range o.Algorithms {
			if !slices.Contains(known, a) {
				return fmt.Errorf("%s does not know %s (it knows %s): it is older than bench; rebuild it (make master) or name -algorithms",
					masterBin, a, strings.Join(known, ", "))
			}
		}
	}
	r.Mode = "local"
	pool := Pool{Specs: map[string]string{}}
	for i, s := range o.Slaves {
		label := fmt.Sprintf("s%d", i+1)
		pool.Order = append(pool.Order, label)
		pool.Specs[label] = s.String()
		r.Slaves = append(r.Slaves, SlaveInfo{Label: label, Spec: s.String()})
	}
	logDir, cleanup, err := makeLogDir(o.LogDir)
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			cleanup()
		} else {
			err = fmt.Errorf("%w (daemon logs kept in %s)", err, logDir)
		}
	}()
	co := ClusterOptions{MasterBin: masterBin, SlaveBin: slaveBin, Slaves: o.Slaves,
		MasterArgs: o.MasterArgs, SlaveArgs: o.SlaveArgs, LogDir: logDir, LogLevel: o.LogLevel,
		JoinTimeout: o.JoinTimeout, StopTimeout: o.StopTimeout}
	for i, algo := range o.Algorithms {
		co.Algorithm = algo
		res, err := runOnCluster(ctx, co, lo, client, pool, prog, warn, i, len(o.Algorithms), o.Bucket)
		if err != nil {
			return fmt.Errorf("%s: %w", algo, err)
		}
		r.Results = append(r.Results, res)
	}
	return nil
}

// runOnCluster starts a cluster, loads it, stops it.
func runOnCluster(ctx context.Context, co ClusterOptions, lo LoadOptions, client *http.Client, pool Pool,
	prog Progress, warn io.Writer, i, n int, bucket time.Duration) (res Result, err error) {
	c, err := StartCluster(ctx, co, client)
	if err != nil {
		return res, err
	}
	defer func() {
		// The measurements stand even if a daemon was slow to stop.
		if serr := c.Stop(co.StopTimeout); serr != nil {
			fmt.Fprintf(warn, "bench: warning: %s: %v\n", co.Algorithm, serr)
		}
	}()
	lo.BaseURL = c.URL
	pool.Labels = c.Labels
	var cnt Counters
	prog.Step(i, n, co.Algorithm, lo.Duration, lo.Requests, &cnt)
	before := sampleCPU(c.pids())
	run, err := Generate(ctx, client, lo, &cnt)
	other := otherShare(before, sampleCPU(c.pids()))
	prog.Done()
	client.CloseIdleConnections()
	if err != nil {
		return res, err
	}
	for _, p := range c.processes() {
		if p.exited() {
			fmt.Fprintf(warn, "bench: warning: %s: %v\n", co.Algorithm, p.failure())
		}
	}
	res = Summarize(co.Algorithm, run, pool, bucket)
	if other >= 0 {
		res.OtherCPUShare = &other
	}
	return res, nil
}

// runTarget loads a running master once.
func runTarget(ctx context.Context, o Options, lo LoadOptions, r *Report, client *http.Client, prog Progress) error {
	base, err := CheckTarget(o.Target, o.AllowRemote)
	if err != nil {
		return err
	}
	r.Mode, r.Target = "target", base
	algo, keys := targetInfo(ctx, client, base)
	if algo == "" {
		algo = "target"
	}
	sort.Strings(keys)
	pool := Pool{Labels: map[string]string{}, Specs: map[string]string{}}
	for i, k := range keys {
		label := fmt.Sprintf("s%d", i+1)
		pool.Labels[k], pool.Specs[label] = label, k
		pool.Order = append(pool.Order, label)
		r.Slaves = append(r.Slaves, SlaveInfo{Label: label, Spec: k})
	}
	lo.BaseURL = base
	var cnt Counters
	prog.Step(0, 1, algo, lo.Duration, lo.Requests, &cnt)
	run, err := Generate(ctx, client, lo, &cnt)
	prog.Done()
	if err != nil {
		return err
	}
	r.Results = append(r.Results, Summarize(algo, run, pool, o.Bucket))
	return nil
}

// makeLogDir returns the daemons' log directory and what to do with it on
// success: a temporary one is removed, a named one kept.
func makeLogDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "lb-bench-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
