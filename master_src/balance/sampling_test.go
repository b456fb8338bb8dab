package balance

import (
	"math"
	"testing"
)

// counts places n tasks with a over ms, without changing their figures, and
// returns how many each slave got.
func counts(a Algorithm, ms []*testSlave, n int) []int {
	got := make([]int, len(ms))
	for range n {
		got[pick(a, ms)]++
	}
	return got
}

func TestRandomIsUniform(t *testing.T) {
	t.Parallel()
	a, _ := NewSeeded("random", 7)
	ms := slaves(a, slave{load: 9}, slave{}, slave{inFlight: 5}, slave{})
	const n = 40000
	for i, c := range counts(a, ms, n) {
		// Binomial(n, 1/4): sd ≈ 87; 5 sd.
		if math.Abs(float64(c)-n/4) > 450 {
			t.Errorf("slave %d got %d of %d, want about %d", i, c, n, n/4)
		}
	}
}

func TestRandomIsDeterministicWithASeed(t *testing.T) {
	t.Parallel()
	seq := func() []int {
		a, _ := NewSeeded("random", 3)
		ms := slaves(a, slave{}, slave{}, slave{}, slave{}, slave{})
		var out []int
		for range 20 {
			out = append(out, pick(a, ms))
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("two runs with seed 3 differ: %v and %v", a, b)
		}
	}
}

func TestPrequalHotCold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		slaves []slave
		want   int
	}{
		// Of 8 probes, the 0.84 quantile of RIF is the 6th lowest (index
		// 5), of 3 the 2nd: slaves with more in flight are hot.
		// The latency estimate is service × (RIF + 1).
		{"the fastest cold slave wins", []slave{{service: 3e-3, inFlight: 1}, {service: 1e-3, inFlight: 1}, {service: 5e-3}}, 1},
		{"above the quantile is hot", []slave{{service: 3e-3, inFlight: 1}, {service: 1e-4, inFlight: 2}, {service: 5e-3}}, 2},
		{"a hot slave loses however fast", []slave{
			{service: 1e-6, inFlight: 9}, {service: 5e-3, inFlight: 1}, {service: 4e-3, inFlight: 1}, {service: 6e-3, inFlight: 1},
			{service: 7e-3, inFlight: 1}, {service: 8e-3, inFlight: 1}, {service: 9e-3, inFlight: 1}, {service: 9e-3, inFlight: 1}}, 2},
		{"no result yet counts as fastest", []slave{{service: 1e-3}, {}}, 1},
		{"equal service: fewer in flight", []slave{{service: 1e-3, inFlight: 2}, {service: 1e-3, inFlight: 1}, {service: 1e-3, inFlight: 2}}, 1},
	}
	for _, tt := range tests {
		a := newPrequal(1)
		ms := slaves(a, tt.slaves...)
		// Enough choices to have probed every slave; the pool holds them all.
		for range 200 {
			pick(a, ms)
		}
		if len(a.pool) != len(ms) {
			t.Fatalf("%s: %d probes in the pool, want all %d slaves", tt.name, len(a.pool), len(ms))
		}
		if got := pick(a, ms); got != tt.want {
			t.Errorf("%s: picked %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The pool stays bounded and forgets slaves that leave.
func TestPrequalPool(t *testing.T) {
	t.Parallel()
	a := newPrequal(2)
	figs := make([]slave, 100)
	ms := slaves(a, figs...)
	for range 1000 {
		pick(a, ms)
	}
	if len(a.pool) != prequalPool {
		t.Fatalf("pool holds %d probes, want %d", len(a.pool), prequalPool)
	}
	gone := a.pool[3].(*testSlave)
	a.Untrack(gone)
	for _, s := range a.pool {
		if s == Slave(gone) {
			t.Fatal("a slave that left is still probed")
		}
	}
}

func TestJoinIdleQueue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		slaves []slave
		want   int
	}{
		{"an idle slave wins over less loaded busy ones", []slave{{inFlight: 0}, {inFlight: 3, idle: 1}, {inFlight: 0}}, 1},
		{"the most idle workers first", []slave{{idle: 1}, {idle: 3}, {idle: 2}}, 1},
		{"none idle: fewer in flight of two", []slave{{inFlight: 4}, {inFlight: 1}}, 1},
	}
	for _, tt := range tests {
		a := newJoinIdleQueue(1)
		if got := pick(a, slaves(a, tt.slaves...)); got != tt.want {
			t.Errorf("%s: picked %d, want %d", tt.name, got, tt.want)
		}
	}
	// The notice is used up as the caller lowers Idle at placement.
	a := newJoinIdleQueue(1)
	ms := slaves(a, slave{inFlight: 2}, slave{inFlight: 9, idle: 1})
	if got := pick(a, ms); got != 1 {
		t.Fatalf("picked %d, want the idle slave 1", got)
	}
	ms[1].Idle--
	a.Track(ms[1])
	if got := pick(a, ms); got != 0 {
		t.Fatalf("after the idle worker was taken: picked %d, want 0", got)
	}
}

func TestWeightedRoundRobinShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		slaves []slave
		want   []int // of 700 choices
	}{
		// Weight = rate / utilisation: 40/0.5 = 80, 20/0.5 = 40, 10/0.5 = 20.
		{"by capacity", []slave{{rate: 40, util: 0.5}, {rate: 20, util: 0.5}, {rate: 10, util: 0.5}, {rate: 10, util: 0.5}}, []int{350, 175, 87, 88}},
		{"the same rate at lower utilisation weighs more", []slave{{rate: 10, util: 0.25}, {rate: 10, util: 1}}, []int{560, 140}},
		{"unknown slaves weigh the mean", []slave{{rate: 30, util: 1}, {rate: 10, util: 1}, {}}, []int{350, 117, 233}},
		{"no figures at all: round robin", []slave{{}, {}}, []int{350, 350}},
	}
	for _, tt := range tests {
		a := newWeightedRoundRobin()
		got := counts(a, slaves(a, tt.slaves...), 700)
		for i := range got {
			if d := got[i] - tt.want[i]; d < -1 || d > 1 {
				t.Errorf("%s: shares %v, want %v (±1)", tt.name, got, tt.want)
				break
			}
		}
	}
}

// EDF interleaves: a slave of half the weight is never chosen twice in a
// row while the heavier one waits.
func TestWeightedRoundRobinInterleaves(t *testing.T) {
	t.Parallel()
	a := newWeightedRoundRobin()
	ms := slaves(a, slave{rate: 2, util: 1}, slave{rate: 1, util: 1})
	prev := -1
	for i := range 30 {
		got := pick(a, ms)
		if got == 1 && prev == 1 {
			t.Fatalf("choice %d: the lighter slave chosen twice in a row", i)
		}
		prev = got
	}
	a.Untrack(ms[0])
	if got := pick(a, ms[1:]); got != 0 {
		t.Fatalf("after the heavy slave left: picked %d", got)
	}
}

func TestObserveService(t *testing.T) {
	t.Parallel()
	var f Figures
	f.ObserveService(2)
	if f.Service != 2 {
		t.Fatalf("first result: %v, want 2", f.Service)
	}
	f.ObserveService(2 + serviceWindow)
	if f.Service != 3 {
		t.Fatalf("then %v, want 3: one window's step", f.Service)
	}
}

// The free-worker preference lets a fast slave take many turns in a row
// while the slow one is busy; EDF must not pay that back later by sending
// the slow slave every task once both are busy (the real master's p99 of
// 60-79 mean service times: a debt of hundreds of turns queued on the slow
// slaves). Each case drives a fast slave (weight 80) and a slow one (20),
// one worker each, through a fake report sequence: the fast one alone free
// for 100 choices, then both busy for 50.
func TestWeightedRoundRobinAfterFreePicks(t *testing.T) {
	t.Parallel()
	fast := slave{rate: 40, util: 0.5, workers: 1}
	slow := slave{rate: 10, util: 0.5, inFlight: 1, workers: 1}
	tests := []struct {
		name string
		// before and then are the slaves' reports for the two phases.
		before, then [2]slave
		// of the 50 choices with both busy, the slow slave's: 50 × 20/100
		// = 10, and at most one turn of catch-up.
		minSlow, maxSlow int
	}{
		{"weights known throughout", [2]slave{fast, slow}, [2]slave{fast, slow}, 9, 11},
		// The first report comes only after the fast slave took its turns
		// (the master's first poll interval): turns counted before then
		// must not make the slow slave owed 100 choices.
		{"weights from the first report", [2]slave{{workers: 1}, {inFlight: 1, workers: 1}}, [2]slave{fast, slow}, 9, 11},
	}
	for _, tt := range tests {
		a := newWeightedRoundRobin()
		ms := slaves(a, tt.before[0], tt.before[1])
		for i := range 100 {
			if got := pick(a, ms); got != 0 {
				t.Fatalf("%s: choice %d went to slave %d, want the free fast one", tt.name, i, got)
			}
		}
		for i, f := range tt.then {
			ms[i].Rate, ms[i].Utilisation, ms[i].InFlight = f.rate, f.util, 1
			a.Track(ms[i])
		}
		if got := counts(a, ms, 50); got[1] < tt.minSlow || got[1] > tt.maxSlow {
			t.Errorf("%s: with both busy the slow slave got %d of 50 choices, want %d-%d (its weight's share)", tt.name, got[1], tt.minSlow, tt.maxSlow)
		}
	}
}

// Noisy weights make the steps average more than 1/(mean weight), so a
// clock moving on by 1/(total weight) alone falls behind the deadlines;
// the clamp then undoes each choice's step and keeps choosing the slave it
// clamps. The clock must keep pace with the earliest deadline. Here one
// slave's reports swing between weights 1 and 1000 every 3 choices, as a
// slave completing a handful of tasks per report can, against two steady
// slaves of weight 10, and the master refiles each slave it places on.
func TestWeightedRoundRobinNoisyWeights(t *testing.T) {
	t.Parallel()
	a := newWeightedRoundRobin()
	ms := slaves(a, slave{rate: 10, util: 1}, slave{rate: 10, util: 1}, slave{rate: 10, util: 1})
	const n = 30000
	got := make([]int, len(ms))
	for i := range n {
		if i%3 == 0 {
			ms[0].Rate = []float64{1, 1000}[(i/3)%2]
			a.Track(ms[0])
		}
		s := pick(a, ms)
		got[s]++
		a.Track(ms[s])
	}
	// With the clock lagging, the swinging slave took half the choices.
	if got[0] > got[1]+n/100 {
		t.Errorf("the slave with swinging weights got %v of the choices, more than its steady peers", got)
	}
}
