package bench

import (
	"math"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, tc := range []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"one value", []float64{7}, 99, 7},
		{"1..100 p50", hundred, 50, 50},
		{"1..100 p95", hundred, 95, 95},
		{"1..100 p99", hundred, 99, 99},
		{"1..100 p100", hundred, 100, 100},
		{"1..100 p0.5 is the first", hundred, 0.5, 1},
		{"four values p50", []float64{1, 2, 3, 4}, 50, 2},
		{"four values p51", []float64{1, 2, 3, 4}, 51, 3},
		{"ten values p99 is the max", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
	} {
		if got := Percentile(tc.values, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%g) = %g, want %g", tc.name, tc.p, got, tc.want)
		}
	}
	s := Summary(hundred)
	if s.P50 != 50 || s.P95 != 95 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Errorf("Summary(1..100) = %+v", s)
	}
	if (Summary(nil) != Latency{}) {
		t.Error("Summary(nil) is not zero")
	}
}

func TestSharesAndImbalance(t *testing.T) {
	t.Parallel()
	sh := Shares([]float64{1, 1, 2})
	if sh[0] != 0.25 || sh[1] != 0.25 || sh[2] != 0.5 {
		t.Errorf("Shares(1,1,2) = %v", sh)
	}
	if sh := Shares([]float64{0, 0}); sh[0] != 0 || sh[1] != 0 {
		t.Errorf("Shares(0,0) = %v", sh)
	}
	for _, tc := range []struct {
		values []float64
		want   float64
	}{
		{[]float64{5, 5, 5}, 1},
		{[]float64{9, 0, 0}, 3},    // everything on one of three
		{[]float64{2, 1, 0}, 2},    // max 2, mean 1
		{[]float64{4, 2, 2, 0}, 2}, // max 4, mean 2
		{nil, 0},
		{[]float64{0, 0}, 0},
	} {
		if got := Imbalance(tc.values); !near(got, tc.want, 1e-12) {
			t.Errorf("Imbalance(%v) = %g, want %g", tc.values, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	fib := Item{Task: "fibonacci", N: 30}
	ok := func(due, lat time.Duration, slave string, ms float64) Sample {
		return Sample{Item: fib, Due: due, End: due + lat, Slave: slave, SlaveMS: ms}
	}
	run := RunResult{Elapsed: 2 * time.Second, Samples: []Sample{
		ok(0, 10*time.Millisecond, "127.0.0.1:1001", 500),
		ok(100*time.Millisecond, 20*time.Millisecond, "127.0.0.1:1001", 100),
		ok(200*time.Millisecond, 30*time.Millisecond, "127.0.0.1:1002", 400),
		ok(1500*time.Millisecond, 40*time.Millisecond, "127.0.0.1:9999", 0), // not in the pool
		{Item: fib, Due: time.Second, End: time.Second, Err: "503"},
		{Item: fib, Due: time.Second, End: time.Second, Err: "503"},
		{Item: fib, Due: time.Second, End: time.Second, Err: errDropped},
	}}
	pool := Pool{
		Labels: map[string]string{"127.0.0.1:1001": "s1", "127.0.0.1:1002": "s2", "127.0.0.1:1003": "s3"},
		Specs:  map[string]string{"s1": "workers=2"},
		Order:  []string{"s1", "s2", "s3"},
	}
	r := Summarize("round_robin", run, pool, time.Second)
	if r.Requests != 7 || r.Completed != 4 || r.Errors["503"] != 2 || r.Errors[errDropped] != 1 || len(r.Errors) != 2 {
		t.Errorf("counts: requests %d completed %d errors %v", r.Requests, r.Completed, r.Errors)
	}
	if r.Throughput != 2 || r.ElapsedS != 2 {
		t.Errorf("throughput %g over %gs, want 2 over 2s", r.Throughput, r.ElapsedS)
	}
	if r.LatencyMS.P50 != 20 || r.LatencyMS.Max != 40 || r.LatencyMS.Mean != 25 {
		t.Errorf("latency %+v", r.LatencyMS)
	}
	wantLabels := []string{"s1", "s2", "s3", "127.0.0.1:9999"}
	if len(r.Slaves) != len(wantLabels) {
		t.Fatalf("slaves %+v, want %v", r.Slaves, wantLabels)
	}
	taskSum, busySum := 0.0, 0.0
	for i, s := range r.Slaves {
		if s.Label != wantLabels[i] {
			t.Errorf("slave %d is %q, want %q", i, s.Label, wantLabels[i])
		}
		taskSum += s.TaskShare
		busySum += s.BusyShare
	}
	if !near(taskSum, 1, 1e-12) || !near(busySum, 1, 1e-12) {
		t.Errorf("shares sum to %g (tasks) and %g (busy), want 1", taskSum, busySum)
	}
	s1, s2, s3 := r.Slaves[0], r.Slaves[1], r.Slaves[2]
	if s1.Tasks != 2 || s1.TaskShare != 0.5 || s1.BusyMS != 600 || s1.BusyShare != 0.6 || s1.Spec != "workers=2" || s1.Key != "127.0.0.1:1001" {
		t.Errorf("s1 = %+v", s1)
	}
	if s2.Tasks != 1 || s2.BusyShare != 0.4 || s3.Tasks != 0 || s3.BusyShare != 0 {
		t.Errorf("s2 = %+v, s3 = %+v", s2, s3)
	}
	// Busy 600, 400, 0, 0: mean 250, max 600.
	if !near(r.Imbalance, 2.4, 1e-12) {
		t.Errorf("imbalance %g, want 2.4", r.Imbalance)
	}
	// s1's tasks: [−490 ms→0, 10 ms] and [20, 120 ms]: 110 ms busy in the
	// first second; s2's: [−170 ms→0, 230 ms]: 230 ms.
	if got := r.Load.Slaves["s1"]; len(got) != 2 || !near(got[0], 0.11, 1e-9) || got[1] != 0 {
		t.Errorf("s1 load %v, want [0.11 0]", got)
	}
	if got := r.Load.Slaves["s2"]; !near(got[0], 0.23, 1e-9) {
		t.Errorf("s2 load %v, want [0.23 0]", got)
	}
}

func TestLoadSeriesSpreadsOverBuckets(t *testing.T) {
	t.Parallel()
	// One task busy from 0.5 s to 2.5 s, in a run of 2.75 s: buckets of 1 s
	// hold 0.5, 1, 0.5 of it, and the last bucket is 0.75 s long.
	run := RunResult{Elapsed: 2750 * time.Millisecond, Samples: []Sample{
		{End: 2500 * time.Millisecond, Slave: "a", SlaveMS: 2000},
	}}
	r := Summarize("x", run, Pool{Labels: map[string]string{"a": "s1"}, Order: []string{"s1"}}, time.Second)
	got := r.Load.Slaves["s1"]
	want := []float64{0.5, 1, 0.5 / 0.75}
	if len(got) != len(want) {
		t.Fatalf("load %v, want %v", got, want)
	}
	for i := range want {
		if !near(got[i], want[i], 1e-9) {
			t.Fatalf("load %v, want %v", got, want)
		}
	}
}

func TestHostCPUParsing(t *testing.T) {
	t.Parallel()
	busy, all, err := parseProcStat("cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil || busy != 161 || all != 981 {
		t.Fatalf("parseProcStat = %d, %d, %v; want 161, 981", busy, all, err)
	}
	if _, _, err := parseProcStat("intr 1 2 3"); err == nil {
		t.Fatal("a stat without a cpu line was accepted")
	}
	stat := "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 70 30 0 0 20 0 4 0 100 1000 200"
	if got, err := parsePidStat(stat); err != nil || got != 100 {
		t.Fatalf("parsePidStat = %d, %v; want 70+30", got, err)
	}
	a := cpuSample{busy: 100, all: 1000, ours: 10, ok: true}
	b := cpuSample{busy: 600, all: 2000, ours: 310, ok: true}
	if got := otherShare(a, b); !near(got, 0.2, 1e-12) { // (500-300)/1000
		t.Fatalf("otherShare = %g, want 0.2", got)
	}
	if got := otherShare(a, cpuSample{}); got != -1 {
		t.Fatalf("otherShare without a reading = %g, want -1", got)
	}
	if s := sampleCPU(nil); s.ok && s.all == 0 {
		t.Fatal("a CPU reading with no ticks")
	}
}
