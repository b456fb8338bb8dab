package master

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// How a per-try timeout is derived: tryTimeoutFactor × the recent p99 of a
// task type's round trip per unit of load, times the task's load, within
// [floor, the task timeout]. Round trips (send to result), not the slave's
// compute times, because the slave's own queue is part of what a try waits
// for: a hedge must answer a slave that is far slower than usual, not one
// that is merely busy.
const (
	tryTimeoutFactor = 10
	// tryRingSize bounds the memory per task type: the p99 is over the last
	// tryRingSize results.
	tryRingSize = 256
	// tryUnknown is the per-try timeout of a type with no result yet (within
	// the floor and the task timeout), so a slave that never answers cannot
	// hold the first tasks for the whole task timeout. A slower first task
	// is hedged: a cost paid only until the type's first result.
	tryUnknown = 500 * time.Millisecond
	// tryResortEvery is how many results pass between two recomputations
	// of a type's p99 (a sort of tryRingSize numbers), so the result path
	// stays cheap; the first tryResortEvery results each recompute it (the
	// p99 of so few is their maximum).
	tryResortEvery = 16
)

// tryTimeouts holds, per task type, the recent round trips per unit of load
// and derives the per-try timeout from them. Safe for concurrent use.
type tryTimeouts struct {
	floor time.Duration
	types [256]atomic.Pointer[roundTrips] // by task index; nil until its first result
}

func newTryTimeouts(floor time.Duration) *tryTimeouts {
	return &tryTimeouts{floor: floor}
}

// roundTrips is a ring of one task type's latest round trips per unit of
// load, in seconds, and their p99.
type roundTrips struct {
	mu      sync.Mutex
	ring    [tryRingSize]float64
	next    int
	n       int // samples in ring
	fresh   int // samples since p99 was computed
	scratch [tryRingSize]float64
	p99     atomic.Uint64 // math.Float64bits; 0 until the first result
}

// observe records a result of task code that took rtt for load.
func (t *tryTimeouts) observe(code uint8, rtt time.Duration, load uint64) {
	r := t.types[code].Load()
	if r == nil {
		t.types[code].CompareAndSwap(nil, &roundTrips{})
		r = t.types[code].Load()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring[r.next] = rtt.Seconds() / float64(max(load, 1))
	r.next = (r.next + 1) % tryRingSize
	r.n = min(r.n+1, tryRingSize)
	r.fresh++
	if r.n <= tryResortEvery || r.fresh >= tryResortEvery {
		s := r.scratch[:r.n]
		copy(s, r.ring[:r.n])
		slices.Sort(s)
		p := s[min(int(math.Ceil(0.99*float64(len(s)))), len(s))-1]
		r.p99.Store(math.Float64bits(p))
		r.fresh = 0
	}
}

// timeout is how long a try of task code with load may take before the task
// is also sent elsewhere, at most ceiling (the task's own timeout).
func (t *tryTimeouts) timeout(code uint8, load uint64, ceiling time.Duration) time.Duration {
	floor := min(t.floor, ceiling)
	var p99 float64
	if r := t.types[code].Load(); r != nil {
		p99 = math.Float64frombits(r.p99.Load())
	}
	if p99 == 0 {
		return min(max(tryUnknown, floor), ceiling)
	}
	d := tryTimeoutFactor * p99 * float64(max(load, 1)) * float64(time.Second)
	switch {
	case d >= float64(ceiling) || math.IsNaN(d):
		return ceiling
	case d <= float64(floor):
		return floor
	}
	return time.Duration(d)
}
