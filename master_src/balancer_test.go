package master

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAlgorithmPicks(t *testing.T) {
	t.Parallel()
	// Three candidates in join order; each case names the expected index.
	tests := []struct {
		algo  string
		cands []Candidate
		want  int
	}{
		{"first_available", []Candidate{{Seq: 1, Load: 9}, {Seq: 2, Load: 0}}, 0},
		{"first_available", []Candidate{{Seq: 5}}, 0},
		{"least_load", []Candidate{{Seq: 1, Load: 3}, {Seq: 2, Load: 1}, {Seq: 3, Load: 2}}, 1},
		{"least_load", []Candidate{{Seq: 1, Load: 1, InFlight: 2}, {Seq: 2, Load: 1, InFlight: 1}, {Seq: 3, Load: 1, InFlight: 1}}, 1},
		{"least_load", []Candidate{{Seq: 1, Load: 0}, {Seq: 2, Load: 0}, {Seq: 3, Load: 0}}, 0},
		{"least_load", []Candidate{{Seq: 1, Load: 0.5}, {Seq: 2, Load: 0.25, InFlight: 9}}, 1},
		{"least_difference", []Candidate{{Seq: 1, Room: 50}, {Seq: 2, Room: 10}, {Seq: 3, Room: 30}}, 1},
		{"least_difference", []Candidate{{Seq: 1, Room: 0}, {Seq: 2, Room: 10}}, 0},
		{"least_difference", []Candidate{{Seq: 1, Room: 10, InFlight: 3}, {Seq: 2, Room: 10, InFlight: 1}, {Seq: 3, Room: 10, InFlight: 1}}, 1},
	}
	for _, tt := range tests {
		a, err := NewAlgorithm(tt.algo)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Pick(tt.cands); got != tt.want {
			t.Errorf("%s.Pick(%+v) = %d, want %d", tt.algo, tt.cands, got, tt.want)
		}
	}
}

func TestRoundRobinCycle(t *testing.T) {
	t.Parallel()
	seqs := func(ss ...uint64) []Candidate {
		c := make([]Candidate, len(ss))
		for i, s := range ss {
			c[i] = Candidate{Seq: s}
		}
		return c
	}
	rr, _ := NewAlgorithm("round_robin")
	// Each step: the candidates then, and the Seq that must be chosen.
	steps := []struct {
		cands []Candidate
		want  uint64
	}{
		{seqs(1, 2, 3), 1},
		{seqs(1, 2, 3), 2},
		{seqs(1, 2, 3), 3},
		{seqs(1, 2, 3), 1},
		{seqs(1, 2, 3, 4), 2}, // 4 joined: it waits for its turn at the end
		{seqs(1, 2, 3, 4), 3},
		{seqs(1, 2, 3, 4), 4},
		{seqs(1, 2, 4), 1}, // 3 left: no restart, no skip
		{seqs(1, 4), 4},    // 2 left while it was next: the cycle goes on after it
		{seqs(1, 4), 1},
		{seqs(4), 4}, // only one candidate fits (others are full)
		{seqs(1, 2, 4), 1},
		{seqs(2, 4), 2},
	}
	for i, s := range steps {
		got := s.cands[rr.Pick(s.cands)].Seq
		if got != s.want {
			t.Fatalf("step %d: picked seq %d, want %d", i, got, s.want)
		}
	}
}

func TestNewAlgorithmUnknownListsValidNames(t *testing.T) {
	t.Parallel()
	_, err := NewAlgorithm("fastest")
	if err == nil {
		t.Fatal("unknown algorithm accepted")
	}
	for _, name := range []string{"first_available", "round_robin", "least_load", "least_difference", "power_of_two", "least_latency"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, name := range AlgorithmNames() {
		for _, n := range []int{3, 100, 1000} {
			cands := make([]Candidate, n)
			for i := range cands {
				cands[i] = Candidate{Seq: uint64(i + 1), Load: float64((i * 7919) % 101), InFlight: i % 5, Room: uint64((i * 104729) % 1000)}
			}
			a, _ := NewAlgorithm(name)
			b.Run(name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a.Pick(cands)
				}
			})
		}
	}
}

func TestPowerOfTwo(t *testing.T) {
	t.Parallel()
	p := newPowerOfTwo(42)
	if got := p.Pick([]Candidate{{Seq: 7}}); got != 0 {
		t.Fatalf("one candidate: picked %d", got)
	}
	for i := 0; i < 100; i++ {
		if got := p.Pick([]Candidate{{Seq: 1, Load: 5}, {Seq: 2, Load: 1}}); got != 1 {
			t.Fatalf("two candidates: picked %d, want the less loaded", got)
		}
	}
	cands := []Candidate{{Seq: 1, Load: 1}, {Seq: 2, Load: 2}, {Seq: 3, Load: 3}}
	counts := make([]int, 3)
	for i := 0; i < 3000; i++ {
		counts[p.Pick(cands)]++
	}
	// The most loaded never wins a draw; the least loaded wins the two
	// draws it is in (2 of 3 pairs).
	if counts[2] != 0 || counts[0] < 1800 || counts[0] > 2200 {
		t.Fatalf("picks %v over 3000: want about 2000, 1000, 0", counts)
	}
}

func TestLeastLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cands []Candidate
		want  int
	}{
		{"faster wins at equal queues", []Candidate{{Latency: 2e-6, InFlight: 1}, {Latency: 1e-6, InFlight: 1}}, 1},
		{"a slower slave with nothing queued beats a fast busy one", []Candidate{{Latency: 1e-6, InFlight: 9}, {Latency: 3e-6}}, 1},
		{"unknown slaves are priced at the mean", []Candidate{{Latency: 1e-6, InFlight: 1}, {Latency: 3e-6}, {InFlight: 0}}, 2},
		{"no observation at all: fewest in flight", []Candidate{{InFlight: 3}, {InFlight: 1}, {InFlight: 2}}, 1},
		{"ties go to join order", []Candidate{{Latency: 1e-6, InFlight: 1}, {Latency: 1e-6, InFlight: 1}}, 0},
	}
	for _, tt := range tests {
		if got := (leastLatency{}).Pick(tt.cands); got != tt.want {
			t.Errorf("%s: picked %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPeakEWMA(t *testing.T) {
	t.Parallel()
	var e peakEWMA
	now := time.Unix(1_800_000_000, 0)
	e.observe(1, now)
	e.observe(5, now.Add(time.Second)) // a peak is taken at once
	if e.value != 5 {
		t.Fatalf("after a peak: %v, want 5", e.value)
	}
	e.observe(1, now.Add(time.Second+ewmaDecay)) // one time constant later: 1/e of the way back
	want := 5*math.Exp(-1) + 1*(1-math.Exp(-1))
	if math.Abs(e.value-want) > 1e-9 {
		t.Fatalf("decay: %v, want %v", e.value, want)
	}
}
