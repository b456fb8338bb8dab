package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleReport is a small report with two algorithms over two slaves.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	w, err := NewWorkload("mixed", nil, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	pool := Pool{Labels: map[string]string{"127.0.0.1:1": "s1", "127.0.0.1:2": "s2"},
		Specs: map[string]string{"s1": "workers=2", "s2": "max-load=5e10"}, Order: []string{"s1", "s2"}}
	fib := Item{Task: "fibonacci", N: 30}
	var rr, ll RunResult
	rr.Elapsed, ll.Elapsed = 2*time.Second, 2*time.Second
	for i := range 100 {
		due := time.Duration(i) * 10 * time.Millisecond
		lat := time.Duration(i+1) * time.Millisecond
		rr.Samples = append(rr.Samples, Sample{Item: fib, Due: due, End: due + lat, Slave: "127.0.0.1:" + []string{"1", "2"}[i%2], SlaveMS: 1})
		ll.Samples = append(ll.Samples, Sample{Item: fib, Due: due, End: due + 2*lat, Slave: "127.0.0.1:1", SlaveMS: 3})
	}
	ll.Samples = append(ll.Samples, Sample{Item: fib, Err: "503"}, Sample{Item: fib, Err: errDropped}, Sample{Item: fib, Err: errDropped})
	return &Report{Command: "./bench -local", Workload: w, Concurrency: 16, DurationS: 2, Seed: 1, CPUs: 2, Mode: "local",
		Slaves:  []SlaveInfo{{"s1", "workers=2"}, {"s2", "max-load=5e10"}},
		Results: []Result{Summarize("round_robin", rr, pool, time.Second), Summarize("least_load", ll, pool, time.Second)}}
}

func TestWriteMarkdown(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := sampleReport(t).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"**Workload mixed** (95% fibonacci n=30 + 5% primes n=20000); closed loop, 16 in flight; 2s per algorithm; seed 1; 2 CPUs.",
		"| algorithm | ok | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | imbalance | tasks % s1/s2 | busy % s1/s2 |",
		"|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|",
		// 100 done in 2 s; latencies 1..100 ms; even split.
		"| round_robin | 100 | 50.0 | 50.0 | 95.0 | 99.0 | 100 | 0 | 1.00 | 50/50 | 50/50 |",
		// Latencies 2..200 ms; everything on s1: imbalance 2 of 2.
		"| least_load | 100 | 50.0 | 100 | 190 | 198 | 200 | 503: 1, dropped: 2 | 2.00 | 100/0 | 100/0 |",
		"Slaves: s1 = workers=2; s2 = max-load=5e10.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q; it is:\n%s", want, out)
		}
	}
	// Every table row has the header's number of cells.
	var cells []int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "|") {
			cells = append(cells, strings.Count(line, "|"))
		}
	}
	if len(cells) != 4 {
		t.Fatalf("%d table lines, want 4", len(cells))
	}
	for _, c := range cells {
		if c != cells[0] {
			t.Fatalf("table rows have %v cells", cells)
		}
	}
}

func TestWriteMarkdownOpenLoop(t *testing.T) {
	t.Parallel()
	r := sampleReport(t)
	r.Concurrency, r.Rate, r.MaxOutstanding, r.MaxRequests = 0, 250, 1024, 5000
	r.Workload, _ = NewWorkload("bursty", nil, Burst{On: time.Second, Off: 2 * time.Second})
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "**Workload bursty** (95% fibonacci n=30 + 5% primes n=20000, in bursts of 1s every 3s); " +
		"open loop, 250/s Poisson (at most 1024 outstanding); 2s or 5000 requests per algorithm"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("heading lacks %q:\n%s", want, b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.json")
	if err := sampleReport(t).WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Workload struct {
			Name string `json:"name"`
			Mix  []Item `json:"mix"`
		} `json:"workload"`
		Results []struct {
			Algorithm  string         `json:"algorithm"`
			Completed  int            `json:"completed"`
			Errors     map[string]int `json:"errors"`
			Throughput float64        `json:"throughput_per_s"`
			LatencyMS  Latency        `json:"latency_ms"`
			Imbalance  float64        `json:"imbalance"`
			Slaves     []SlaveShare   `json:"slaves"`
			Load       LoadSeries     `json:"load_over_time"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Workload.Name != "mixed" || len(got.Workload.Mix) != 2 || len(got.Results) != 2 {
		t.Fatalf("JSON %s", raw)
	}
	ll := got.Results[1]
	if ll.Algorithm != "least_load" || ll.Completed != 100 || ll.Errors[errDropped] != 2 || ll.LatencyMS.P99 != 198 ||
		ll.Imbalance != 2 || len(ll.Slaves) != 2 || ll.Slaves[0].TaskShare != 1 || len(ll.Load.Slaves["s1"]) != 2 {
		t.Fatalf("least_load in JSON: %+v", ll)
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0: "–", 0.456: "0.46", 9.994: "9.99", 12.34: "12.3", 123.4: "123", 4567.8: "4568"} {
		if got := fmtMS(v); got != want {
			t.Errorf("fmtMS(%g) = %q, want %q", v, got, want)
		}
	}
	if got := errorsText(map[string]int{"timeout": 1, "503": 4}); got != "503: 4, timeout: 1" {
		t.Errorf("errorsText = %q", got)
	}
	if got := percents([]string{"a", "b", "c"}, map[string]float64{"a": 0.5, "c": 0.499}); got != "50/0/50" {
		t.Errorf("percents = %q", got)
	}
}
