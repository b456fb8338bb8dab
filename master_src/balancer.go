package master

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Candidate is a slave that has room for the task being placed, as an
// algorithm sees it. Candidates come in pool (join) order.
type Candidate struct {
	// Seq is the slave's join sequence number: unique and increasing.
	Seq uint64
	// Load is the master's current view of the slave's load metric.
	Load float64
	// InFlight counts tasks assigned to the slave and not yet finished.
	InFlight int
	// Room is what stays free under the slave's max load once the task is
	// placed there.
	Room uint64
	// Latency is the peak-EWMA of the slave's round trip per unit of load
	// for tasks of this type, in seconds; 0 until one has come back.
	Latency float64
}

// Algorithm picks one of a non-empty list of candidates and returns its
// index. The pool calls it under its lock, so an Algorithm may keep state
// without locking.
type Algorithm interface {
	Pick(cands []Candidate) int
}

// algorithms maps each name accepted on the command line to a constructor.
var algorithms = map[string]func() Algorithm{
	"first_available":  func() Algorithm { return firstAvailable{} },
	"round_robin":      func() Algorithm { return &roundRobin{} },
	"least_load":       func() Algorithm { return leastLoad{} },
	"least_difference": func() Algorithm { return leastDifference{} },
	"power_of_two":     func() Algorithm { return newPowerOfTwo(rand.Uint64()) },
	"least_latency":    func() Algorithm { return leastLatency{} },
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

// firstAvailable takes the first candidate in join order.
type firstAvailable struct{}

func (firstAvailable) Pick([]Candidate) int { return 0 }

// roundRobin takes the first candidate that joined after the last one it
// chose, wrapping around. Remembering the last choice by join sequence (not
// by index) means a join or leave neither restarts the cycle nor skips
// anyone: newcomers take their turn at the end of the cycle.
type roundRobin struct {
	last    uint64
	started bool
}

func (r *roundRobin) Pick(cands []Candidate) int {
	i := 0
	if r.started {
		i = sort.Search(len(cands), func(i int) bool { return cands[i].Seq > r.last })
		if i == len(cands) {
			i = 0
		}
	}
	r.last, r.started = cands[i].Seq, true
	return i
}

// leastLoad takes the candidate with the smallest load; ties go to fewer
// tasks in flight, then to join order.
type leastLoad struct{}

func (leastLoad) Pick(cands []Candidate) int {
	best := 0
	for i, c := range cands[1:] {
		b := cands[best]
		if c.Load < b.Load || (c.Load == b.Load && c.InFlight < b.InFlight) {
			best = i + 1
		}
	}
	return best
}

// leastDifference is best fit: the candidate left with the least room once
// the task is placed, keeping large gaps free for large tasks. Ties go to
// fewer tasks in flight, then to join order.
type leastDifference struct{}

func (leastDifference) Pick(cands []Candidate) int {
	best := 0
	for i, c := range cands[1:] {
		b := cands[best]
		if c.Room < b.Room || (c.Room == b.Room && c.InFlight < b.InFlight) {
			best = i + 1
		}
	}
	return best
}

// powerOfTwo draws two candidates at random, without replacement, and takes
// the less loaded (ties: fewer in flight, then the first drawn). Two random
// choices keep most of least-load's balance while staying robust to stale
// load figures, which make least-load herd (Mitzenmacher, "How useful is
// old information?").
type powerOfTwo struct {
	rng *rand.Rand
}

func newPowerOfTwo(seed uint64) *powerOfTwo {
	return &powerOfTwo{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *powerOfTwo) Pick(cands []Candidate) int {
	if len(cands) == 1 {
		return 0
	}
	i := p.rng.IntN(len(cands))
	j := p.rng.IntN(len(cands) - 1)
	if j >= i {
		j++
	}
	a, b := cands[i], cands[j]
	if b.Load < a.Load || (b.Load == a.Load && b.InFlight < a.InFlight) {
		return j
	}
	return i
}

// leastLatency takes the candidate expected to answer soonest: its
// peak-EWMA round trip per unit of load, for tasks of this type, times its
// tasks in flight plus this one (Finagle's and Linkerd's peak-EWMA). A
// slave with no observation yet is priced at the mean of the others, so
// newcomers get work without being flooded. Ties: fewer in flight, then
// join order.
type leastLatency struct{}

func (leastLatency) Pick(cands []Candidate) int {
	sum, known := 0.0, 0
	for _, c := range cands {
		if c.Latency > 0 {
			sum += c.Latency
			known++
		}
	}
	prior := 1.0
	if known > 0 {
		prior = sum / float64(known)
	}
	best, bestScore := 0, 0.0
	for i, c := range cands {
		lat := c.Latency
		if lat == 0 {
			lat = prior
		}
		score := lat * float64(c.InFlight+1)
		if i == 0 || score < bestScore || (score == bestScore && c.InFlight < cands[best].InFlight) {
			best, bestScore = i, score
		}
	}
	return best
}
