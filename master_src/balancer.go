package master

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// choice is one placement as an algorithm sees it: a task of type task and
// load load, the pool in join order, and the slaves that refused this task
// (passed over).
type choice struct {
	task    uint8
	load    uint64
	members []*member
	skip    []*member
}

// fits reports whether m may take the task: it is not draining, the task
// fits under its max load, and it has not refused the task.
func (c *choice) fits(m *member) bool {
	total := m.outstanding + c.load
	return !m.draining && total <= m.maxLoad && total >= c.load && !slices.Contains(c.skip, m)
}

// Algorithm chooses the slave for each task. The pool calls it under its
// lock, so an Algorithm may keep state without locking; it tells the
// algorithm of every slave that joins (track), of every change to a
// slave's load, tasks in flight, max load or latency (track again) and of
// every slave that leaves (untrack). With that an algorithm keeps the
// slaves in its own order and chooses in O(log N), not by scanning the pool.
type Algorithm interface {
	// Pick returns the slave for the task, among those c.fits, or nil when
	// none fits.
	Pick(c *choice) *member
	track(m *member)
	untrack(m *member)
}

// algorithms maps each name accepted on the command line to a constructor.
var algorithms = map[string]func() Algorithm{
	"first_available":  func() Algorithm { return firstAvailable{} },
	"round_robin":      func() Algorithm { return &roundRobin{} },
	"least_load":       func() Algorithm { return &leastLoad{byLoad: newRanking()} },
	"least_difference": func() Algorithm { return &leastDifference{byRoom: newRanking()} },
	"power_of_two":     func() Algorithm { return newPowerOfTwo(rand.Uint64()) },
	"least_latency":    newLeastLatency,
}

// DefaultAlgorithm is used when none is named.
const DefaultAlgorithm = "round_robin"

// AlgorithmNames lists the valid algorithm names, sorted.
func AlgorithmNames() []string {
	names := make([]string, 0, len(algorithms))
	for n := range algorithms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewAlgorithm returns a fresh instance of the named algorithm.
func NewAlgorithm(name string) (Algorithm, error) {
	mk, ok := algorithms[name]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q: valid ones are %s", name, strings.Join(AlgorithmNames(), ", "))
	}
	return mk(), nil
}

// inJoinOrder is for the algorithms that need no order of their own.
type inJoinOrder struct{}

func (inJoinOrder) track(*member)   {}
func (inJoinOrder) untrack(*member) {}

// firstAvailable takes the first slave that fits, in join order: O(1) while
// the first slaves have room.
type firstAvailable struct{ inJoinOrder }

func (firstAvailable) Pick(c *choice) *member {
	for _, m := range c.members {
		if c.fits(m) {
			return m
		}
	}
	return nil
}

// roundRobin takes the first slave that fits among those that joined after
// the last one it chose, wrapping around. Remembering the last choice by
// join sequence (not by index) means a join or leave neither restarts the
// cycle nor skips anyone: newcomers take their turn at the end of the cycle.
// Finding the place in the cycle is a binary search (the pool is in join
// order); then, while slaves have room, the first one looked at fits.
type roundRobin struct {
	inJoinOrder
	last    uint64
	started bool
}

func (r *roundRobin) Pick(c *choice) *member {
	n := len(c.members)
	start := 0
	if r.started {
		start = sort.Search(n, func(i int) bool { return c.members[i].seq > r.last })
	}
	for k := 0; k < n; k++ {
		if m := c.members[(start+k)%n]; c.fits(m) {
			r.last, r.started = m.seq, true
			return m
		}
	}
	return nil
}

// leastLoad takes the slave with the smallest load; ties go to fewer tasks
// in flight, then to join order.
type leastLoad struct{ byLoad *ranking }

func (l *leastLoad) track(m *member)        { l.byLoad.file(m, m.load()) }
func (l *leastLoad) untrack(m *member)      { l.byLoad.remove(m) }
func (l *leastLoad) Pick(c *choice) *member { return l.byLoad.first(lowest, c) }

// leastDifference is best fit: the slave left with the least room once the
// task is placed, keeping large gaps free for large tasks. Ties go to fewer
// tasks in flight, then to join order. Slaves are ordered by free room, and
// the search starts at the task's load.
type leastDifference struct{ byRoom *ranking }

func (l *leastDifference) track(m *member) {
	free := uint64(0)
	if m.maxLoad > m.outstanding {
		free = m.maxLoad - m.outstanding
	}
	l.byRoom.file(m, float64(free))
}
func (l *leastDifference) untrack(m *member) { l.byRoom.remove(m) }

func (l *leastDifference) Pick(c *choice) *member {
	return l.byRoom.first(float64(c.load), c)
}

// powerOfTwo draws two slaves that fit at random, without replacement, and
// takes the less loaded (ties: fewer in flight, then the first drawn). Two
// random choices keep most of least-load's balance while staying robust to
// stale load figures, which make least-load herd (Mitzenmacher, "How useful
// is old information?"). Draws are from the whole pool, redrawn when the
// slave does not fit; only when few fit does it list them.
type powerOfTwo struct {
	inJoinOrder
	rng  *rand.Rand
	fits []*member // scratch
}

// powerOfTwoDraws bounds the random draws before listing the slaves that fit.
const powerOfTwoDraws = 8

func newPowerOfTwo(seed uint64) *powerOfTwo {
	return &powerOfTwo{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *powerOfTwo) Pick(c *choice) *member {
	if len(c.members) == 0 {
		return nil
	}
	var a, b *member
	for range powerOfTwoDraws {
		m := c.members[p.rng.IntN(len(c.members))]
		if m == a || !c.fits(m) {
			continue
		}
		if a != nil {
			b = m
			break
		}
		a = m
	}
	if b == nil {
		p.fits = p.fits[:0]
		for _, m := range c.members {
			if c.fits(m) {
				p.fits = append(p.fits, m)
			}
		}
		switch len(p.fits) {
		case 0:
			return nil
		case 1:
			return p.fits[0]
		}
		i := p.rng.IntN(len(p.fits))
		j := p.rng.IntN(len(p.fits) - 1)
		if j >= i {
			j++
		}
		a, b = p.fits[i], p.fits[j]
	}
	if la, lb := a.load(), b.load(); lb < la || (lb == la && b.inFlight < a.inFlight) {
		return b
	}
	return a
}

// leastLatency takes the slave expected to answer soonest: its peak-EWMA
// round trip per unit of load, for tasks of this type, times its tasks in
// flight plus this one (Finagle's and Linkerd's peak-EWMA). A slave with no
// observation yet is priced at the mean of the pool's slaves with one (full
// or draining ones included: the mean describes the hosts, not who has room
// now), so newcomers get work without being flooded. Ties: fewer in flight, then join order.
// Per task type it keeps two orders: the slaves with an observation by
// score, those without by tasks in flight; the best of each is compared.
type leastLatency struct {
	known, unknown []*ranking // by task code
	sum            []float64  // by task code: the observed latencies' sum
	count          []int      // and how many slaves have one
	filed          map[*member][]float64
}

func newLeastLatency() Algorithm {
	l := &leastLatency{sum: make([]float64, taskCodes), count: make([]int, taskCodes), filed: map[*member][]float64{}}
	for range taskCodes {
		l.known = append(l.known, newRanking())
		l.unknown = append(l.unknown, newRanking())
	}
	return l
}

func (l *leastLatency) track(m *member) {
	filed := l.filed[m]
	if filed == nil {
		filed = make([]float64, taskCodes)
		l.filed[m] = filed
	}
	for _, t := range registeredCodes {
		lat := m.latency[t].value
		l.forget(t, filed[t])
		filed[t] = lat
		if lat > 0 {
			l.sum[t] += lat
			l.count[t]++
			l.unknown[t].remove(m)
			l.known[t].file(m, lat*float64(m.inFlight+1))
		} else {
			l.known[t].remove(m)
			l.unknown[t].file(m, 0)
		}
	}
}

// forget takes a slave's filed latency for task t out of the mean.
func (l *leastLatency) forget(t int, lat float64) {
	if lat > 0 {
		l.sum[t] -= lat
		l.count[t]--
		if l.count[t] == 0 {
			l.sum[t] = 0 // no rounding residue carried into the next mean
		}
	}
}

func (l *leastLatency) untrack(m *member) {
	for t, lat := range l.filed[m] {
		l.forget(t, lat)
		l.known[t].remove(m)
		l.unknown[t].remove(m)
	}
	delete(l.filed, m)
}

func (l *leastLatency) Pick(c *choice) *member {
	known := l.known[c.task].first(lowest, c)
	fresh := l.unknown[c.task].first(lowest, c)
	if known == nil || fresh == nil {
		if known == nil {
			return fresh
		}
		return known
	}
	t := int(c.task)
	prior := l.sum[t] / float64(l.count[t])
	k := rank{figure: l.filed[known][t] * float64(known.inFlight+1), inFlight: known.inFlight, seq: known.seq}
	f := rank{figure: prior * float64(fresh.inFlight+1), inFlight: fresh.inFlight, seq: fresh.seq}
	if f.less(k) {
		return fresh
	}
	return known
}
