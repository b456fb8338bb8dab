package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// Report is one lab run: its settings and a result per algorithm. It is
// what -out writes as JSON.
type Report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Mode     string    `json:"mode"` // "local" or "target"
	Target   string    `json:"target,omitempty"`
	Workload *Workload `json:"workload"`
	// Concurrency is the closed loop's requests in flight; Rate the open
	// loop's arrivals per second (one of them is 0).
	Concurrency    int     `json:"concurrency,omitempty"`
	Rate           float64 `json:"rate,omitempty"`
	MaxOutstanding int     `json:"max_outstanding,omitempty"`
	DurationS      float64 `json:"duration_s,omitempty"`
	MaxRequests    int     `json:"max_requests,omitempty"`
	Seed           uint64  `json:"seed"`
	// Slaves describes the pool the lab started (-local).
	Slaves  []SlaveInfo `json:"slaves,omitempty"`
	CPUs    int         `json:"cpus"`
	Results []Result    `json:"results"`
	// Load is -load's ρ, and Algorithms each algorithm's times in system in
	// units of the mean service time, with emulated work (-emulate).
	Load       float64          `json:"load,omitempty"`
	Algorithms []AlgorithmTimes `json:"algorithms,omitempty"`
}

// SlaveInfo is a started slave's label and settings.
type SlaveInfo struct {
	Label string `json:"label"`
	Spec  string `json:"spec"`
}

// loopText describes the load, e.g. "closed loop, 16 in flight".
func (r *Report) loopText() string {
	if r.Concurrency > 0 {
		return fmt.Sprintf("closed loop, %d in flight", r.Concurrency)
	}
	return fmt.Sprintf("open loop, %g/s Poisson (at most %d outstanding)", r.Rate, r.MaxOutstanding)
}

func (r *Report) boundText() string {
	var parts []string
	if r.DurationS > 0 {
		parts = append(parts, fmt.Sprintf("%gs", r.DurationS))
	}
	if r.MaxRequests > 0 {
		parts = append(parts, fmt.Sprintf("%d requests", r.MaxRequests))
	}
	return strings.Join(parts, " or ") + " per algorithm"
}

func mixText(w *Workload) string {
	total := 0.0
	for _, it := range w.Mix {
		total += it.Weight
	}
	var parts []string
	for _, it := range w.Mix {
		what := fmt.Sprintf("%s n=%d", it.Task, it.N)
		if !it.builtin() {
			what = fmt.Sprintf("%s input=%q", it.Task, it.Input)
		}
		parts = append(parts, fmt.Sprintf("%g%% %s", round(100*it.Weight/total, 1), what))
	}
	s := strings.Join(parts, " + ")
	if w.Burst != nil {
		s += fmt.Sprintf(", in bursts of %s every %s", w.Burst.On, w.Burst.On+w.Burst.Off)
	}
	return s
}

// WriteMarkdown writes the report as a heading line, a table with a row
// per algorithm, and the slaves' legend.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**Workload %s** (%s); %s; %s; seed %d; %d CPUs.\n\n",
		r.Workload.Name, mixText(r.Workload), r.loopText(), r.boundText(), r.Seed, r.CPUs)
	labels := r.slaveLabels()
	slaves := strings.Join(labels, "/")
	fmt.Fprintf(&b, "| algorithm | ok | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | imbalance | tasks %% %s | busy %% %s |\n", slaves, slaves)
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|\n")
	for _, res := range r.Results {
		tasks, busy := map[string]float64{}, map[string]float64{}
		for _, s := range res.Slaves {
			tasks[s.Label], busy[s.Label] = s.TaskShare, s.BusyShare
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s | %s | %s | %.2f | %s | %s |\n",
			res.Algorithm, res.Completed, res.Throughput,
			fmtMS(res.LatencyMS.P50), fmtMS(res.LatencyMS.P95), fmtMS(res.LatencyMS.P99), fmtMS(res.LatencyMS.Max),
			errorsText(res.Errors), res.Imbalance, percents(labels, tasks), percents(labels, busy))
	}
	if len(r.Slaves) > 0 {
		b.WriteString("\nSlaves: ")
		var parts []string
		for _, s := range r.Slaves {
			parts = append(parts, fmt.Sprintf("%s = %s", s.Label, s.Spec))
		}
		b.WriteString(strings.Join(parts, "; ") + ".\n")
	}
	if len(r.Algorithms) > 0 {
		fmt.Fprintf(&b, "\nTime in system in units of the mean service time (%s), at ρ = %g:\n\n", r.Workload.ServiceText, r.Load)
		b.WriteString("| algorithm | tasks | mean | p50 | p99 | p99.9 |\n|---|--:|--:|--:|--:|--:|\n")
		for _, a := range r.Algorithms {
			fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", a.Algorithm, a.Tasks, a.Mean, a.P50, a.P99, a.P999)
		}
	}
	var other []string
	for _, res := range r.Results {
		if res.OtherCPUShare != nil {
			other = append(other, fmt.Sprintf("%s %.0f%%", res.Algorithm, 100**res.OtherCPUShare))
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(&b, "\nCPU used by other processes during each run (noise; 0%% on a quiet host): %s.\n", strings.Join(other, ", "))
	}
	b.WriteString("\nLatency is from when a request was due to its answer. Busy time is each task's compute_ms " +
		"(the slave's computing time, queues excluded), summed per slave; imbalance is max/mean busy time across slaves (1 is even).\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// slaveLabels lists the slave labels of every result, in first-seen order.
func (r *Report) slaveLabels() []string {
	var labels []string
	seen := map[string]bool{}
	for _, res := range r.Results {
		for _, s := range res.Slaves {
			if !seen[s.Label] {
				seen[s.Label] = true
				labels = append(labels, s.Label)
			}
		}
	}
	return labels
}

// WriteJSON writes the report to path, indented.
func (r *Report) WriteJSON(path string) error { return writeJSON(path, r) }

// writeJSON writes v to path as indented JSON.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// fmtMS writes a latency with about three significant digits.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// errorsText writes error counts as "503: 3, dropped: 2", or 0.
func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

// percents writes shares as whole percents in label order: "50/30/20".
func percents(labels []string, shares map[string]float64) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%.0f", 100*shares[l])
	}
	return strings.Join(parts, "/")
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
