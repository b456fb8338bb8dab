package bench

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SimReport is a simulation run (bench -sim), what -out writes as JSON.
type SimReport struct {
	Command      string      `json:"command"`
	Mode         string      `json:"mode"` // "sim"
	Slaves       int         `json:"slaves"`
	Workers      int         `json:"workers"`
	Speeds       []float64   `json:"speeds"`
	Load         float64     `json:"load"`
	Service      string      `json:"service"`
	ReportEveryS float64     `json:"report_every_s"`
	OwnCounts    bool        `json:"own_counts"`
	FreeWorkers  bool        `json:"free_workers"`
	Seed         uint64      `json:"seed"`
	Algorithms   []SimResult `json:"algorithms"`
}

// RunSim simulates every algorithm of o in turn and writes the Markdown
// table to stdout and, when out is set, the JSON report there.
func RunSim(o SimOptions, command string, stdout io.Writer, out string) (*SimReport, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	r := &SimReport{Command: command, Mode: "sim", Slaves: o.Slaves, Workers: o.Workers, Speeds: o.Speeds,
		Load: o.Load, Service: o.Service.String(), ReportEveryS: o.ReportEvery.Seconds(), OwnCounts: o.OwnCounts,
		FreeWorkers: o.FreeWorkers, Seed: o.Seed}
	for _, a := range o.Algorithms {
		res, err := Simulate(o, a)
		if err != nil {
			return nil, err
		}
		r.Algorithms = append(r.Algorithms, res)
	}
	if err := r.WriteMarkdown(stdout); err != nil {
		return r, err
	}
	if out != "" {
		if err := writeJSON(out, r); err != nil {
			return r, fmt.Errorf("writing %s: %w", out, err)
		}
	}
	return r, nil
}

// WriteMarkdown writes the settings and a row per algorithm, best p99 first.
func (r *SimReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	speeds := make([]string, len(r.Speeds))
	for i, s := range r.Speeds {
		speeds[i] = strconv.FormatFloat(s, 'g', -1, 64)
	}
	counts := "own counts on"
	if !r.OwnCounts {
		counts = "own counts off (reports only)"
	}
	rule := "textbook rules"
	if r.FreeWorkers {
		rule = "free workers first (as the real master)"
	}
	fmt.Fprintf(&b, "**Simulated**: %d slaves × %d worker(s), speeds %s, ρ = %g, service %s, reports every %gs, %s, %s, seed %d.\n\n",
		r.Slaves, r.Workers, strings.Join(speeds, ":"), r.Load, r.Service, r.ReportEveryS, counts, rule, r.Seed)
	keys := make([]string, 0, len(speeds))
	for _, s := range speeds {
		if !slices.Contains(keys, s) {
			keys = append(keys, s)
		}
	}
	fmt.Fprintf(&b, "| algorithm | tasks | mean | p50 | p99 | p99.9 | p99 ms | imbalance | tasks %% by speed %s |\n", strings.Join(keys, "/"))
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	rows := append([]SimResult(nil), r.Algorithms...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].P99 < rows[j].P99 })
	for _, a := range rows {
		shares := make([]string, len(keys))
		for i, k := range keys {
			shares[i] = fmt.Sprintf("%.0f", 100*a.ShareBySpeed[k])
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %s |\n",
			a.Algorithm, a.Tasks, a.Mean, a.P50, a.P99, a.P999, fmtMS(1000*a.P99S), a.Imbalance, strings.Join(shares, "/"))
	}
	b.WriteString("\nTimes in system in units of the mean service time (at speed 1), the first tenth of the tasks excluded (warm-up); " +
		"imbalance is max/mean busy time across slaves.\n")
	_, err := io.WriteString(w, b.String())
	return err
}
