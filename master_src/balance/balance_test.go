package balance

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slave gives a test slave's figures: the master's view of its load, its
// tasks in flight, the room left once a task of load 1 is placed, and its
// latency for task 1 (0: none observed).
type slave struct {
	load     float64
	inFlight int
	room     uint64
	latency  float64
	idle     int     // idle workers notified
	rate     float64 // completions per second reported
	util     float64 // utilisation reported
	service  float64 // computing time per task
	workers  int     // worker slots reported (0: no limit)
}

// testTask is the task code and load the tests place.
const testTask, testLoad = 1, 1

// testSlave is a slave as the tests own it: bare figures.
type testSlave = Figures

// views is ms as the algorithms see them.
func views(ms []*testSlave) []Slave {
	out := make([]Slave, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// slaves builds slaves with those figures, in join order (seq 1, 2, ...),
// tracked by a.
func slaves(a Algorithm, figures ...slave) []*testSlave {
	ms := make([]*testSlave, len(figures))
	for i, f := range figures {
		m := &testSlave{Seq: uint64(i + 1), Committed: 1, Factor: f.load, InFlight: f.inFlight,
			MaxLoad: 1 + testLoad + f.room, Latency: make([]PeakEWMA, testTask+1)}
		m.Latency[testTask].Value = f.latency
		m.Idle, m.Rate, m.Utilisation, m.Service = f.idle, f.rate, f.util, f.service
		m.Offers.Add(testTask)
		m.Workers = f.workers
		a.Track(m)
		ms[i] = m
	}
	return ms
}

// pick returns the index in ms of a's choice, or -1 for none.
func pick(a Algorithm, ms []*testSlave, skip ...*testSlave) int {
	got := a.Pick(&Choice{Task: testTask, Load: testLoad, Slaves: views(ms), Skip: views(skip)})
	for i, x := range ms {
		if Slave(x) == got {
			return i
		}
	}
	return -1
}

func TestAlgorithmPicks(t *testing.T) {
	t.Parallel()
	// Each case: slaves in join order and the index that must be chosen.
	tests := []struct {
		algo   string
		slaves []slave
		want   int
	}{
		{"first_available", []slave{{load: 9}, {load: 0}}, 0},
		{"first_available", []slave{{}}, 0},
		{"least_load", []slave{{load: 3}, {load: 1}, {load: 2}}, 1},
		{"least_load", []slave{{load: 1, inFlight: 2}, {load: 1, inFlight: 1}, {load: 1, inFlight: 1}}, 1},
		{"least_load", []slave{{load: 0}, {load: 0}, {load: 0}}, 0},
		{"least_load", []slave{{load: 0.5}, {load: 0.25, inFlight: 9}}, 1},
		{"least_difference", []slave{{room: 50}, {room: 10}, {room: 30}}, 1},
		{"least_difference", []slave{{room: 0}, {room: 10}}, 0},
		{"least_difference", []slave{{room: 10, inFlight: 3}, {room: 10, inFlight: 1}, {room: 10, inFlight: 1}}, 1},
	}
	for _, tt := range tests {
		a, err := New(tt.algo)
		if err != nil {
			t.Fatal(err)
		}
		if got := pick(a, slaves(a, tt.slaves...)); got != tt.want {
			t.Errorf("%s over %+v: picked %d, want %d", tt.algo, tt.slaves, got, tt.want)
		}
	}
}

// Every algorithm passes over the slaves that cannot take the task (full,
// draining, or refused it), and finds none when none can.
func TestAlgorithmsPickOnlySlavesThatFit(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		a, _ := New(name)
		// The best by every algorithm's measure is full, draining or refused.
		ms := slaves(a, slave{latency: 1e-9}, slave{latency: 1e-9}, slave{latency: 1e-9}, slave{load: 5, inFlight: 5, room: 1000, latency: 1e-3})
		ms[0].MaxLoad = ms[0].Committed // full
		a.Track(ms[0])
		ms[1].Draining = true
		for i := 0; i < 20; i++ {
			if got := pick(a, ms, ms[2]); got != 3 {
				t.Fatalf("%s: picked %d, want 3, the only slave that fits", name, got)
			}
		}
		if got := pick(a, ms[:3], ms[2]); got != -1 {
			t.Errorf("%s: picked %d among slaves none of which fits", name, got)
		}
		if got := pick(a, nil); got != -1 {
			t.Errorf("%s: picked %d from an empty pool", name, got)
		}
	}
}

// Filing a slave again after its figures changed moves it: the choice
// follows the load as tasks are placed and finish.
func TestAlgorithmsFollowChanges(t *testing.T) {
	t.Parallel()
	a, _ := New("least_load")
	ms := slaves(a, slave{load: 1}, slave{load: 2})
	if got := pick(a, ms); got != 0 {
		t.Fatalf("picked %d, want 0", got)
	}
	ms[0].Factor = 3
	a.Track(ms[0])
	if got := pick(a, ms); got != 1 {
		t.Fatalf("after slave 0's load rose: picked %d, want 1", got)
	}
	a.Untrack(ms[1])
	if got := pick(a, ms); got != 0 {
		t.Fatalf("after slave 1 left: picked %d, want 0", got)
	}
}

// The indexed algorithms choose exactly what a scan of every slave would,
// over random pools and random changes.
func TestIndexedAlgorithmsMatchAScan(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"least_load", "least_difference", "least_latency", "first_available", "round_robin"} {
		a, _ := New(name)
		figures := make([]slave, 50)
		for i := range figures {
			figures[i] = slave{load: float64(rng.IntN(5)), inFlight: rng.IntN(4), room: uint64(rng.IntN(6)),
				latency: float64(rng.IntN(4)) / (1 << 20), workers: rng.IntN(4)}
		}
		ms := slaves(a, figures...)
		last := uint64(0)
		for step := 0; step < 2000; step++ {
			m := ms[rng.IntN(len(ms))]
			switch rng.IntN(5) {
			case 0:
				m.Factor = float64(rng.IntN(5))
			case 1:
				m.InFlight = rng.IntN(4)
			case 2:
				m.MaxLoad = m.Committed + uint64(rng.IntN(6))
			case 3:
				m.Latency[testTask].Value = float64(rng.IntN(4)) / (1 << 20) // exact sums: no rounding in the mean
			case 4:
				m.Workers = rng.IntN(4)
			}
			a.Track(m)
			c := &Choice{Task: testTask, Load: testLoad + uint64(rng.IntN(3)), Slaves: views(ms)}
			got, want := a.Pick(c), scanPick(name, c, last)
			if got != want {
				t.Fatalf("%s, step %d: picked seq %v, a scan picks seq %v", name, step, seqOf(got), seqOf(want))
			}
			if got != nil {
				last = got.Figures().Seq
			}
		}
	}
}

func seqOf(s Slave) any {
	if s == nil {
		return nil
	}
	return s.Figures().Seq
}

// scanPick is the definition of the indexed algorithms, written as a scan
// of every slave: a free worker first, the algorithm's figure, fewer in
// flight, then round robin after join number last.
func scanPick(name string, c *Choice, last uint64) Slave {
	var fit []Slave
	for _, m := range c.Slaves {
		if c.Fits(m) {
			fit = append(fit, m)
		}
	}
	if len(fit) == 0 {
		return nil
	}
	sum, known := 0.0, 0
	for _, s := range c.Slaves {
		if l := s.Figures().Latency[c.Task].Value; l > 0 {
			sum += l
			known++
		}
	}
	primary := func(s Slave) float64 {
		m := s.Figures()
		switch name {
		case "least_load":
			return m.Load()
		case "least_difference":
			return float64(m.MaxLoad - m.Committed)
		case "first_available":
			return float64(m.Seq)
		case "round_robin":
			return 0
		default:
			l := m.Latency[c.Task].Value
			if l == 0 {
				l = sum / float64(known)
			}
			return l * float64(m.InFlight+1)
		}
	}
	key := func(s Slave) rank {
		k := rank{busy: !s.Figures().FreeWorker(), figure: primary(s), inFlight: s.Figures().InFlight}
		if name == "first_available" || name == "round_robin" {
			k.inFlight = 0 // join order alone, a free worker first
		}
		return k
	}
	best := fit[0]
	for _, m := range fit[1:] {
		km, kb := key(m), key(best)
		if km.less(kb) || (km.tied(kb) && sooner(m.Figures().Seq, best.Figures().Seq, last)) {
			best = m
		}
	}
	return best
}

func TestRoundRobinCycle(t *testing.T) {
	t.Parallel()
	rr, _ := New("round_robin")
	ms := slaves(rr, slave{room: 9}, slave{room: 9}, slave{room: 9}, slave{room: 9})
	// only makes the slaves with these join numbers the ones that fit (the
	// others are full, or have left).
	only := func(seqs ...uint64) []*testSlave {
		for _, m := range ms {
			m.MaxLoad = m.Committed
			for _, s := range seqs {
				if m.Seq == s {
					m.MaxLoad = m.Committed + 10
				}
			}
		}
		return ms
	}
	// Each step: the slaves that fit then, and the seq that must be chosen.
	steps := []struct {
		fit  []uint64
		want uint64
	}{
		{[]uint64{1, 2, 3}, 1},
		{[]uint64{1, 2, 3}, 2},
		{[]uint64{1, 2, 3}, 3},
		{[]uint64{1, 2, 3}, 1},
		{[]uint64{1, 2, 3, 4}, 2}, // 4 joined: it waits for its turn at the end
		{[]uint64{1, 2, 3, 4}, 3},
		{[]uint64{1, 2, 3, 4}, 4},
		{[]uint64{1, 2, 4}, 1}, // 3 left: no restart, no skip
		{[]uint64{1, 4}, 4},    // 2 left while it was next: the cycle goes on after it
		{[]uint64{1, 4}, 1},
		{[]uint64{4}, 4}, // only one fits (others are full)
		{[]uint64{1, 2, 4}, 1},
		{[]uint64{2, 4}, 2},
	}
	for i, s := range steps {
		if got := ms[pick(rr, only(s.fit...))].Seq; got != s.want {
			t.Fatalf("step %d: picked seq %d, want %d", i, got, s.want)
		}
	}
	// The last chosen (seq 2) leaves the pool: the cycle goes on after it.
	only(1, 3, 4)
	left := []*testSlave{ms[0], ms[2], ms[3]}
	if got := left[pick(rr, left)].Seq; got != 3 {
		t.Fatalf("after the last chosen left: picked seq %d, want 3", got)
	}
}

func TestNewAlgorithmUnknownListsValidNames(t *testing.T) {
	t.Parallel()
	_, err := New("fastest")
	if err == nil {
		t.Fatal("unknown algorithm accepted")
	}
	for _, name := range []string{"first_available", "round_robin", "least_load", "least_difference", "power_of_two", "least_latency",
		"random", "prequal", "join_idle_queue", "weighted_round_robin"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

// BenchmarkPick measures an algorithm's choice alone, over pools of 3, 100
// and 1000 slaves that all have room (BenchmarkAcquire adds the filing
// of the chosen slave's new figures).
func BenchmarkPick(b *testing.B) {
	for _, name := range Names() {
		for _, n := range []int{3, 100, 1000} {
			a, _ := New(name)
			figures := make([]slave, n)
			for i := range figures {
				figures[i] = slave{load: float64((i * 7919) % 101), inFlight: i % 5, room: uint64((i*104729)%1000) + 1, latency: float64((i*31)%7) * 1e-6}
			}
			ms := slaves(a, figures...)
			b.Run(name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				c := &Choice{Task: testTask, Load: testLoad, Slaves: views(ms)}
				for b.Loop() {
					a.Pick(c)
				}
			})
		}
	}
}

func TestPowerOfTwo(t *testing.T) {
	t.Parallel()
	p := newPowerOfTwo(42)
	if got := pick(p, slaves(p, slave{})); got != 0 {
		t.Fatalf("one slave: picked %d", got)
	}
	p = newPowerOfTwo(42)
	two := slaves(p, slave{load: 5}, slave{load: 1})
	for i := 0; i < 100; i++ {
		if got := pick(p, two); got != 1 {
			t.Fatalf("two slaves: picked %d, want the less loaded", got)
		}
	}
	p = newPowerOfTwo(42)
	three := slaves(p, slave{load: 1}, slave{load: 2}, slave{load: 3})
	counts := make([]int, 3)
	for i := 0; i < 3000; i++ {
		counts[pick(p, three)]++
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
		name   string
		slaves []slave
		want   int
	}{
		{"faster wins at equal queues", []slave{{latency: 2e-6, inFlight: 1}, {latency: 1e-6, inFlight: 1}}, 1},
		{"a slower slave with nothing queued beats a fast busy one", []slave{{latency: 1e-6, inFlight: 9}, {latency: 3e-6}}, 1},
		{"unknown slaves are priced at the mean", []slave{{latency: 1e-6, inFlight: 1}, {latency: 3e-6}, {inFlight: 0}}, 2},
		{"no observation at all: fewest in flight", []slave{{inFlight: 3}, {inFlight: 1}, {inFlight: 2}}, 1},
		{"ties go to join order", []slave{{latency: 1e-6, inFlight: 1}, {latency: 1e-6, inFlight: 1}}, 0},
	}
	for _, tt := range tests {
		a := newLeastLatency()
		if got := pick(a, slaves(a, tt.slaves...)); got != tt.want {
			t.Errorf("%s: picked %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPeakEWMA(t *testing.T) {
	t.Parallel()
	var e PeakEWMA
	now := time.Unix(1_800_000_000, 0)
	e.Observe(1, now)
	e.Observe(5, now.Add(time.Second)) // a peak is taken at once
	if e.Value != 5 {
		t.Fatalf("after a peak: %v, want 5", e.Value)
	}
	e.Observe(1, now.Add(time.Second+EWMADecay)) // one time constant later: 1/e of the way back
	want := 5*math.Exp(-1) + 1*(1-math.Exp(-1))
	if math.Abs(e.Value-want) > 1e-9 {
		t.Fatalf("decay: %v, want %v", e.Value, want)
	}
}
