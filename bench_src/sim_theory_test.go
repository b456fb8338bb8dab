package bench

import (
	"math"
	"testing"
	"time"
)

// The simulator checked against queueing theory. If it disagrees with a
// formula, the simulator is wrong. Each case states its tolerance; the
// seeds are fixed, so a case fails only when the simulator changes.

// homogeneous is n one-worker slaves of speed 1 with exponential service
// of mean 1 s, at load rho.
func homogeneous(n int, rho float64, tasks int, algorithm string) SimOptions {
	o := NewSimOptions()
	o.Slaves, o.Workers, o.Speeds, o.Load, o.Tasks = n, 1, []float64{1}, rho, tasks
	o.Service = Service{Kind: "exp", Mean: time.Second}
	o.Algorithms = []string{algorithm}
	o.Seed = 11
	return o
}

func simulate(t *testing.T, o SimOptions) SimResult {
	t.Helper()
	r, err := Simulate(o, o.Algorithms[0])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func within(t *testing.T, what string, got, want, relTol float64) {
	t.Helper()
	t.Logf("%s = %.4f, theory %.4f", what, got, want)
	if math.Abs(got-want) > relTol*want {
		t.Errorf("%s = %.4f, theory %.4f (tolerance %.0f%%)", what, got, want, 100*relTol)
	}
}

// Random placement splits a Poisson stream into n Poisson streams: n
// independent M/M/1 queues, time in system exponential of mean 1/(1−ρ).
func TestSimRandomIsMM1(t *testing.T) {
	t.Parallel()
	for _, rho := range []float64{0.5, 0.8} {
		r := simulate(t, homogeneous(20, rho, 400_000, "random"))
		within(t, "random mean", r.Mean, 1/(1-rho), 0.05)
		within(t, "random p99", r.P99, math.Log(100)/(1-rho), 0.05)
		// P(queue ≥ i) = ρ^i.
		for i := 1; i <= 3; i++ {
			within(t, "random P(≥i)", r.QueueTail[i-1], math.Pow(rho, float64(i)), 0.05)
		}
	}
}

// Power of two choices approaches the supermarket model as n grows
// (Mitzenmacher 2001): a fraction λ^(2^i−1) of the queues hold at least i
// tasks, and the mean time is Σ_{i≥1} λ^(2^i−2): 2.6141 at λ = 0.9.
func TestSimPowerOfTwoIsTheSupermarketModel(t *testing.T) {
	t.Parallel()
	const lambda = 0.9
	want := 0.0
	for i := 1; i < 20; i++ {
		want += math.Pow(lambda, math.Pow(2, float64(i))-2)
	}
	if math.Abs(want-2.6141) > 1e-4 {
		t.Fatalf("the formula gives %.4f, the paper 2.6141", want)
	}
	r := simulate(t, homogeneous(1000, lambda, 600_000, "power_of_two"))
	within(t, "power_of_two mean", r.Mean, want, 0.03)
	for i := 1; i <= 4; i++ {
		within(t, "power_of_two P(≥i)", r.QueueTail[i-1], math.Pow(lambda, math.Pow(2, float64(i))-1), 0.04)
	}
}

// erlangGIM1 is the mean time in system of a GI/M/1 queue (service rate mu)
// whose interarrival times are Erlang-k of total rate k·lambda: sigma solves
// σ = A*(μ(1−σ)) with A*(s) = (kλ/(kλ+s))^k, and the mean is 1/(μ(1−σ)).
func erlangGIM1(k int, lambda, mu float64) (sigma, mean float64) {
	rate := float64(k) * lambda
	sigma = 0.5
	for range 10_000 { // a contraction on [0, 1) for ρ < 1
		sigma = math.Pow(rate/(rate+mu*(1-sigma)), float64(k))
	}
	return sigma, 1 / (mu * (1 - sigma))
}

// Round robin over n slaves gives each the n-th arrival: Erlang-n
// interarrivals, a GI/M/1 queue with an exact mean (and an exponential
// time in system).
func TestSimRoundRobinIsErlangGIM1(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n   int
		rho float64
	}{{10, 0.8}, {4, 0.9}} {
		sigma, want := erlangGIM1(tc.n, tc.rho, 1)
		if sigma >= tc.rho {
			t.Fatalf("σ = %.4f: Erlang arrivals must queue less than Poisson (ρ = %g)", sigma, tc.rho)
		}
		r := simulate(t, homogeneous(tc.n, tc.rho, 300_000, "round_robin"))
		within(t, "round_robin mean", r.Mean, want, 0.04)
		within(t, "round_robin p99", r.P99, math.Log(100)*want, 0.05)
	}
}

// Least-loaded on reports 10 mean service times old herds (Mitzenmacher,
// "How useful is old information?", 2000): every task goes to the slaves
// that looked empty at the last report, and it does worse than random.
// The master's own counts of its placements are what save it, as the real
// master runs.
func TestSimStaleLeastLoadHerdsWithoutOwnCounts(t *testing.T) {
	t.Parallel()
	stale := func(algorithm string, own bool) SimResult {
		o := homogeneous(100, 0.9, 300_000, algorithm)
		o.ReportEvery, o.OwnCounts = 10*time.Second, own
		return simulate(t, o)
	}
	random := stale("random", false)
	within(t, "random mean", random.Mean, 1/(1-0.9), 0.1)
	herd := stale("least_load", false)
	if herd.Mean <= random.Mean {
		t.Errorf("least_load on reports only: mean %.2f, want worse than random's %.2f (the herd)", herd.Mean, random.Mean)
	}
	t.Logf("least_load on reports only: mean %.2f; random %.2f", herd.Mean, random.Mean)
	counted := stale("least_load", true)
	t.Logf("least_load with own counts: mean %.2f", counted.Mean)
	if counted.Mean >= random.Mean/2 {
		t.Errorf("least_load with own counts: mean %.2f, want under half random's %.2f", counted.Mean, random.Mean)
	}
}

// TestSimShortestQueueWinsOnUnequalHosts is the lab's claim at a smaller
// scale: on slaves of speeds 4:2:1:1 with reports every 10 mean service
// times at ρ = 0.9, shortest_queue's p99 is below least_load's and under
// half round robin's.
func TestSimShortestQueueWinsOnUnequalHosts(t *testing.T) {
	t.Parallel()
	p99 := func(algorithm string) float64 {
		o := homogeneous(200, 0.9, 200_000, algorithm)
		o.Speeds, o.ReportEvery = []float64{4, 2, 1, 1}, 10*time.Second
		r := simulate(t, o)
		t.Logf("%s: p99 %.2f mean service times", algorithm, r.P99)
		return r.P99
	}
	sq, ll, rr := p99("shortest_queue"), p99("least_load"), p99("round_robin")
	if sq >= ll {
		t.Errorf("shortest_queue p99 %.2f, want below least_load's %.2f", sq, ll)
	}
	if sq > rr/2 {
		t.Errorf("shortest_queue p99 %.2f, want at most half round robin's %.2f", sq, rr)
	}
}
