package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// SweepPoint is one algorithm's run at one load in one round.
type SweepPoint struct {
	Load  float64 `json:"load"`
	Round int     `json:"round"`
	Seed  uint64  `json:"seed"`
	AlgorithmTimes
	// TaskShares is each slave's share of the completed tasks, in -slaves
	// order.
	TaskShares []float64 `json:"task_shares"`
}

// SweepReport is a -loads sweep: every algorithm at every load, over
// Rounds rounds of their own seed, the algorithm order rotated each round
// so that none always runs first or last on the shared host.
type SweepReport struct {
	Command string       `json:"command"`
	Service string       `json:"service"`
	Slaves  []SlaveInfo  `json:"slaves"`
	Loads   []float64    `json:"loads"`
	Rounds  int          `json:"rounds"`
	Points  []SweepPoint `json:"points"`
}

// RunSweep runs Run for every load of loads and round, with -emulate.
func RunSweep(ctx context.Context, o Options, loads []float64, rounds int, stdout, stderr io.Writer) (*SweepReport, error) {
	if o.Emulate == nil || !o.Local {
		return nil, fmt.Errorf("-loads needs -local and -emulate")
	}
	if rounds < 1 {
		return nil, fmt.Errorf("-rounds must be at least 1")
	}
	sr := &SweepReport{Command: o.Command, Service: o.Emulate.String(), Loads: loads, Rounds: rounds}
	out, chart := o.Out, o.Chart
	o.Out, o.Chart = "", ""
	algorithms := o.Algorithms
	for round := range rounds {
		for _, load := range loads {
			run := o
			run.Load, run.Seed = load, o.Seed+uint64(round)
			k := round % len(algorithms)
			run.Algorithms = append(append([]string(nil), algorithms[k:]...), algorithms[:k]...)
			fmt.Fprintf(stderr, "bench: round %d/%d, ρ = %g, order %s\n", round+1, rounds, load, strings.Join(run.Algorithms, ","))
			r, err := Run(ctx, run, io.Discard, stderr)
			if err != nil {
				return sr, err
			}
			sr.Slaves = r.Slaves
			for i, res := range r.Results {
				p := SweepPoint{Load: load, Round: round, Seed: run.Seed, AlgorithmTimes: r.Algorithms[i]}
				for _, s := range res.Slaves {
					p.TaskShares = append(p.TaskShares, s.TaskShare)
				}
				sr.Points = append(sr.Points, p)
			}
		}
	}
	if err := sr.WriteMarkdown(stdout, algorithms); err != nil {
		return sr, err
	}
	if out != "" {
		if err := writeJSON(out, sr); err != nil {
			return sr, fmt.Errorf("writing %s: %w", out, err)
		}
	}
	if chart != "" {
		if err := sr.WriteChart(chart, algorithms); err != nil {
			return sr, fmt.Errorf("writing %s: %w", chart, err)
		}
	}
	return sr, nil
}

// median99 is the median over rounds of an algorithm's p99 at a load, in
// units of the mean service time, and its mean task shares.
func (sr *SweepReport) median99(algorithm string, load float64) (p99 float64, shares []float64) {
	var v []float64
	n := 0
	for _, p := range sr.Points {
		if p.Algorithm != algorithm || p.Load != load {
			continue
		}
		v = append(v, p.P99)
		if shares == nil {
			shares = make([]float64, len(p.TaskShares))
		}
		for i, s := range p.TaskShares {
			shares[i] += s
		}
		n++
	}
	for i := range shares {
		shares[i] /= float64(n)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0, nil
	}
	if len(v)%2 == 1 {
		return v[len(v)/2], shares
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, shares
}

// WriteMarkdown writes a row per algorithm: its median p99 at each load,
// and its task shares at the middle load.
func (sr *SweepReport) WriteMarkdown(w io.Writer, algorithms []string) error {
	var b strings.Builder
	mid := sr.Loads[len(sr.Loads)/2]
	var specs []string
	for _, s := range sr.Slaves {
		specs = append(specs, s.Label+" = "+s.Spec)
	}
	fmt.Fprintf(&b, "**Emulated work** %s, %d round(s), open-loop Poisson; slaves: %s.\n\n", sr.Service, sr.Rounds, strings.Join(specs, "; "))
	b.WriteString("| algorithm |")
	for _, l := range sr.Loads {
		fmt.Fprintf(&b, " p99 at ρ=%g |", l)
	}
	fmt.Fprintf(&b, " tasks %% per slave at ρ=%g |\n|---|", mid)
	for range sr.Loads {
		b.WriteString("--:|")
	}
	b.WriteString("--:|\n")
	for _, a := range algorithms {
		fmt.Fprintf(&b, "| %s |", a)
		for _, l := range sr.Loads {
			p99, _ := sr.median99(a, l)
			fmt.Fprintf(&b, " %.2f |", p99)
		}
		_, shares := sr.median99(a, mid)
		parts := make([]string, len(shares))
		for i, s := range shares {
			parts[i] = fmt.Sprintf("%.0f", 100*s)
		}
		fmt.Fprintf(&b, " %s |\n", strings.Join(parts, "/"))
	}
	b.WriteString("\np99 time in system in units of the mean service time, the median over the rounds.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteChart draws p99 against load per algorithm, and each slave's task
// share per algorithm at the middle load.
func (sr *SweepReport) WriteChart(path string, algorithms []string) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	curve := plot.New()
	curve.Title.Text = "p99 time in system against load (" + sr.Service + ")"
	curve.X.Label.Text = "ρ (load / capacity)"
	curve.Y.Label.Text = "p99 (mean service times, log scale)"
	curve.Y.Scale = plot.LogScale{}
	curve.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	curve.Add(plotter.NewGrid())
	curve.Legend.Top, curve.Legend.Left = true, true
	mid := sr.Loads[len(sr.Loads)/2]
	share := plot.New()
	share.Title.Text = fmt.Sprintf("task share per slave at ρ = %g", mid)
	share.X.Label.Text = "slave (in -slaves order)"
	share.Y.Label.Text = "share of the tasks"
	share.Add(plotter.NewGrid())
	share.Legend.Top = true
	for i, a := range algorithms {
		var pts plotter.XYs
		for _, l := range sr.Loads {
			if p99, _ := sr.median99(a, l); p99 > 0 {
				pts = append(pts, plotter.XY{X: l, Y: p99})
			}
		}
		if l, err := plotter.NewLine(pts); err == nil {
			styleLine(&l.LineStyle, i)
			curve.Add(l)
			curve.Legend.Add(a, l)
		}
		_, shares := sr.median99(a, mid)
		var sp plotter.XYs
		for j, s := range shares {
			sp = append(sp, plotter.XY{X: float64(j + 1), Y: s})
		}
		if l, err := plotter.NewLine(sp); err == nil {
			styleLine(&l.LineStyle, i)
			share.Add(l)
			share.Legend.Add(a, l)
		}
	}
	return drawPlots([]*plot.Plot{curve, share}, path, format)
}

// ParseLoads reads -loads: ρ values separated by commas.
func ParseLoads(s string) ([]float64, error) {
	loads, err := ParseSpeeds(s) // positive numbers, the same syntax
	if err != nil {
		return nil, fmt.Errorf("-loads: %w", err)
	}
	return loads, nil
}
