package bench

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Result is what the lab measured for one algorithm.
type Result struct {
	Algorithm string `json:"algorithm"`
	// Requests counts every request due, Completed those answered 200 with
	// the right result; Errors counts the others by class (HTTP status,
	// "dropped", "timeout", "conn", "bad-answer", "wrong-answer").
	Requests  int            `json:"requests"`
	Completed int            `json:"completed"`
	Errors    map[string]int `json:"errors"`
	// ElapsedS runs from the first request to the last answer.
	ElapsedS float64 `json:"elapsed_s"`
	// Throughput is Completed / ElapsedS.
	Throughput float64 `json:"throughput_per_s"`
	// LatencyMS summarises the completed requests' latency.
	LatencyMS Latency `json:"latency_ms"`
	// Slaves are the pool's slaves, with their shares of the completed
	// tasks and of the busy time.
	Slaves []SlaveShare `json:"slaves"`
	// Imbalance is max/mean busy time across the slaves: 1 is perfectly
	// even, K (the number of slaves) is everything on one.
	Imbalance float64 `json:"imbalance"`
	// OtherCPUShare is the fraction of the host's CPU that processes other
	// than the lab's (bench, master, slaves) used during the run: noise in
	// the comparison (-local on Linux only).
	OtherCPUShare *float64 `json:"other_cpu_share,omitempty"`
	// Load is each slave's load over time (see LoadSeries).
	Load LoadSeries `json:"load_over_time"`

	latencies []float64 // completed requests' latencies in ms, sorted, for the chart
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// SlaveShare is one slave's part of the work. Busy time is the sum of the
// compute_ms the slave reported for its tasks.
type SlaveShare struct {
	Label     string  `json:"label"`
	Key       string  `json:"key,omitempty"`
	Spec      string  `json:"spec,omitempty"`
	Tasks     int     `json:"tasks"`
	TaskShare float64 `json:"task_share"`
	BusyMS    float64 `json:"busy_ms"`
	BusyShare float64 `json:"busy_share"`
}

// LoadSeries is each slave's mean number of tasks in flight (busy time per
// bucket / bucket length) in consecutive buckets from the start of the run.
// A task counts from its answer's time minus its compute_ms to its answer.
type LoadSeries struct {
	BucketS float64              `json:"bucket_s"`
	Slaves  map[string][]float64 `json:"slaves"`
}

// Pool names the slaves a result is about: Labels maps a slave key (as in
// the answers) to its label, Specs a label to its description; Order lists
// the labels in display order. Slaves answering outside Labels are labelled
// by their key.
type Pool struct {
	Labels map[string]string
	Specs  map[string]string
	Order  []string
}

// Summarize computes an algorithm's result from its run.
func Summarize(algorithm string, run RunResult, pool Pool, bucket time.Duration) Result {
	r := Result{Algorithm: algorithm, Requests: len(run.Samples), Errors: map[string]int{},
		ElapsedS: run.Elapsed.Seconds()}
	busy := map[string]float64{}
	tasks := map[string]int{}
	order := slices.Clone(pool.Order)
	known := map[string]bool{}
	for _, l := range order {
		known[l] = true
	}
	keyOf := map[string]string{}
	for k, l := range pool.Labels {
		keyOf[l] = k
	}
	label := func(key string) string {
		l, ok := pool.Labels[key]
		if !ok {
			l = key
		}
		if !known[l] {
			known[l] = true
			order = append(order, l)
		}
		return l
	}
	for _, s := range run.Samples {
		if s.Err != "" {
			r.Errors[s.Err]++
			continue
		}
		r.Completed++
		r.latencies = append(r.latencies, ms(s.Latency()))
		l := label(s.Slave)
		tasks[l]++
		busy[l] += s.SlaveMS
	}
	sort.Float64s(r.latencies)
	r.LatencyMS = Summary(r.latencies)
	if r.ElapsedS > 0 {
		r.Throughput = float64(r.Completed) / r.ElapsedS
	}
	var busyTotal []float64
	for _, l := range order {
		sh := SlaveShare{Label: l, Spec: pool.Specs[l], Tasks: tasks[l], BusyMS: busy[l]}
		if k := keyOf[l]; k != l {
			sh.Key = k
		}
		r.Slaves = append(r.Slaves, sh)
		busyTotal = append(busyTotal, busy[l])
	}
	counts := make([]float64, len(r.Slaves))
	for i, sh := range r.Slaves {
		counts[i] = float64(sh.Tasks)
	}
	taskShares, busyShares := Shares(counts), Shares(busyTotal)
	for i := range r.Slaves {
		r.Slaves[i].TaskShare, r.Slaves[i].BusyShare = taskShares[i], busyShares[i]
	}
	r.Imbalance = Imbalance(busyTotal)
	r.Load = loadSeries(run, order, bucket, label)
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted values by
// the nearest-rank method: the smallest value with at least p% of the values
// at or below it. It returns 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Summary returns the percentiles, max and mean of sorted values.
func Summary(sorted []float64) Latency {
	if len(sorted) == 0 {
		return Latency{}
	}
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	return Latency{
		P50: Percentile(sorted, 50), P95: Percentile(sorted, 95), P99: Percentile(sorted, 99),
		Max: sorted[len(sorted)-1], Mean: sum / float64(len(sorted)),
	}
}

// Shares returns each value's fraction of the total (all 0 when the total
// is 0).
func Shares(values []float64) []float64 {
	total := 0.0
	for _, v := range values {
		total += v
	}
	out := make([]float64, len(values))
	if total > 0 {
		for i, v := range values {
			out[i] = v / total
		}
	}
	return out
}

// Imbalance returns max/mean of values: 1 when all are equal, len(values)
// when one holds everything; 0 when there is nothing to compare.
func Imbalance(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sum, top := 0.0, math.Inf(-1)
	for _, v := range values {
		sum += v
		top = max(top, v)
	}
	if sum <= 0 {
		return 0
	}
	return top / (sum / float64(len(values)))
}

// loadSeries spreads each completed task's busy interval over buckets. The
// last bucket ends with the run, so it may be shorter than the others.
func loadSeries(run RunResult, order []string, bucket time.Duration, label func(string) string) LoadSeries {
	ls := LoadSeries{BucketS: bucket.Seconds(), Slaves: map[string][]float64{}}
	if bucket <= 0 || run.Elapsed <= 0 {
		return ls
	}
	n := int((run.Elapsed + bucket - 1) / bucket)
	for _, l := range order {
		ls.Slaves[l] = make([]float64, n)
	}
	width, elapsed := float64(bucket), float64(run.Elapsed)
	for _, s := range run.Samples {
		series := ls.Slaves[label(s.Slave)]
		if s.Err != "" || series == nil {
			continue
		}
		end := min(float64(s.End), elapsed)
		start := max(end-s.SlaveMS*float64(time.Millisecond), 0)
		for b := int(start / width); b < n && float64(b)*width < end; b++ {
			lo, hi := max(start, float64(b)*width), min(end, float64(b+1)*width)
			if hi > lo {
				series[b] += hi - lo
			}
		}
	}
	for _, series := range ls.Slaves {
		for b := range series {
			series[b] /= min(width, elapsed-float64(b)*width)
		}
	}
	return ls
}
