package balance

import (
	"math"
	"math/rand/v2"
	"slices"
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
		m.Offers.Add(testTask)
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
// draining, refused it, ejected, or does not offer it), and finds none when
// none can.
func TestAlgorithmsPickOnlySlavesThatFit(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		a, _ := New(name)
		// The best by every algorithm's measure cannot take the task.
		best := slave{latency: 1e-9, idle: 4, rate: 1000, util: 0.1, service: 1e-9}
		ms := slaves(a, best, best, best, best, best, slave{load: 5, inFlight: 5, room: 1000, latency: 1e-3})
		ms[0].MaxLoad = ms[0].Committed // full
		ms[1].Draining = true
		ms[3].Ejected = true
		ms[4].Offers = TaskSet{}
		ms[4].Offers.Add(testTask + 1)
		for _, m := range ms {
			a.Track(m)
		}
		for i := 0; i < 20; i++ {
			if got := pick(a, ms, ms[2]); got != 5 {
				t.Fatalf("%s: picked %d, want 5, the only slave that fits", name, got)
			}
		}
		if got := pick(a, ms[:5], ms[2]); got != -1 {
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
	key := func(s Slave) classed {
		k := classed{busy: !s.Figures().FreeWorker(), rank: rank{figure: primary(s), inFlight: s.Figures().InFlight}}
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
		{"ties: the first in join order, to begin with", []slave{{latency: 1e-6, inFlight: 1}, {latency: 1e-6, inFlight: 1}}, 0},
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

// Every algorithm takes a slave with a free worker over any without, even
// when those without are the best by its own rule; when no slave has a free
// worker it still places.
func TestAlgorithmsPreferAFreeWorker(t *testing.T) {
	t.Parallel()
	// busy is the best by every rule but has its one worker taken; free is
	// the worst, with no worker limit.
	busy := slave{inFlight: 1, workers: 1, latency: 1e-9, rate: 1000, util: 0.1, service: 1e-9}
	free := slave{load: 5, inFlight: 5, room: 1000, latency: 1e-3, rate: 1, util: 1, service: 1e-3}
	limited := free
	limited.workers = 6 // 5 in flight of 6: one free
	for _, name := range Names() {
		for _, tt := range []struct {
			name   string
			slaves []slave
			want   int // -1: any
		}{
			{"no limit", []slave{busy, busy, free, busy}, 2},
			{"a worker left", []slave{busy, limited, busy}, 1},
			{"none free", []slave{busy, busy, busy}, -1},
		} {
			a, _ := NewSeeded(name, 1)
			ms := slaves(a, tt.slaves...)
			for i := 0; i < 20; i++ {
				got := pick(a, ms)
				if got == -1 || (tt.want >= 0 && got != tt.want) {
					t.Fatalf("%s, %s: picked %d, want %d", name, tt.name, got, tt.want)
				}
			}
		}
	}
}

// Ties rotate: an idle pool given one task at a time shares it evenly
// (nginx's least_conn, HAProxy's leastconn), and only among the tied.
func TestTiesRotate(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"least_load", "least_difference", "least_latency", "join_idle_queue", "shortest_queue"} {
		for _, tt := range []struct {
			name   string
			slaves []slave
			want   []int
		}{
			{"idle pool of 3", []slave{{idle: 1}, {idle: 1}, {idle: 1}}, []int{5, 5, 5}},
			{"the tied 2 of 3", []slave{{idle: 1}, {inFlight: 1, idle: 1}, {idle: 1}}, []int{8, 0, 7}},
			{"observed latencies", []slave{{latency: 1e-6, idle: 1}, {latency: 1e-6, idle: 1}, {latency: 1e-6, idle: 1}}, []int{5, 5, 5}},
		} {
			a, _ := New(name)
			ms := slaves(a, tt.slaves...)
			if got := counts(a, ms, 15); !slices.Equal(got, tt.want) {
				t.Errorf("%s, %s: %v of 15, want %v", name, tt.name, got, tt.want)
			}
		}
	}
}

func TestSlowStartWeight(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0)
	const span = 10 * time.Second
	tests := []struct {
		name      string
		warmSince time.Time
		slowStart time.Duration
		now       time.Time
		want      float64
	}{
		{"just joined: the floor", t0, span, t0, slowStartFloor},
		{"below the floor's time", t0, span, t0.Add(span / 20), slowStartFloor},
		{"a quarter", t0, span, t0.Add(span / 4), 0.25},
		{"half", t0, span, t0.Add(span / 2), 0.5},
		{"warm", t0, span, t0.Add(span), 1},
		{"long warm", t0, span, t0.Add(time.Hour), 1},
		{"slow start off", t0, 0, t0, 1},
		{"never warming", time.Time{}, span, t0, 1},
	}
	for _, tt := range tests {
		c := &Choice{Now: tt.now, SlowStart: tt.slowStart}
		if got := c.Weight(&Figures{WarmSince: tt.warmSince}); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: weight %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A warming slave's share of random placement rises with its weight, from
// a tenth of its fair share to all of it.
func TestSlowStartShareOverTime(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0)
	const span, n = 10 * time.Second, 20000
	for _, tt := range []struct {
		age  time.Duration
		want float64 // the warming slave's share of 2
	}{{0, 0.05}, {span / 4, 0.125}, {span / 2, 0.25}, {span, 0.5}, {2 * span, 0.5}} {
		a, _ := NewSeeded("random", 5)
		ms := slaves(a, slave{}, slave{})
		ms[1].WarmSince = t0
		c := &Choice{Task: testTask, Load: testLoad, Slaves: views(ms), Now: t0.Add(tt.age), SlowStart: span}
		got := 0
		for range n {
			if a.Pick(c) == Slave(ms[1]) {
				got++
			}
		}
		// Binomial: sd at most 0.0036; 4 sd.
		if share := float64(got) / n; math.Abs(share-tt.want) > 0.015 {
			t.Errorf("at %s: share %.3f, want %.3f", tt.age, share, tt.want)
		}
	}
}

// Every algorithm gives a slave that just joined far less than the others
// during slow start, and once it is warm chooses exactly as without slow
// start.
func TestSlowStartEveryAlgorithm(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0)
	const span = 10 * time.Second
	picks := func(name string, now time.Time, slowStart time.Duration) []int {
		a, _ := NewSeeded(name, 9)
		ms := slaves(a, slave{idle: 1}, slave{idle: 1}, slave{idle: 1})
		ms[0].WarmSince = t0 // the first: the one most rules start with
		c := &Choice{Task: testTask, Load: testLoad, Slaves: views(ms), Now: now, SlowStart: slowStart}
		var out []int
		for range 3000 {
			got := a.Pick(c)
			out = append(out, slices.Index(c.Slaves, got))
		}
		return out
	}
	for _, name := range Names() {
		got := make([]int, 3)
		for _, i := range picks(name, t0, span) {
			got[i]++
		}
		if most := max(got[1], got[2]); float64(got[0]) > 0.25*float64(most) {
			t.Errorf("%s: the warming slave got %v of 3000, want under a quarter of the most", name, got)
		}
		if warm, off := picks(name, t0.Add(span), span), picks(name, t0, 0); !slices.Equal(warm, off) {
			t.Errorf("%s: once warm, the choices differ from those without slow start", name)
		}
	}
}
