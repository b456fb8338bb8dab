package master

import (
	"math"
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
	// tryRecomputeEvery is how many results pass between two
	// recomputations of a type's p99 (a pass over tryRingSize numbers), so
	// the result path stays cheap; the first tryRecomputeEvery results each
	// recompute it (the p99 of so few is their maximum).
	tryRecomputeEvery = 16
	// tryTopKept is how many of the largest samples a recomputation keeps:
	// the p99 of n ≤ tryRingSize samples has at most 2 above it
	// (n − ⌈0.99·n⌉ ≤ 2), so no sort is needed.
	tryTopKept = 3
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
// load, in seconds (as math.Float64bits; 0 for a slot not written yet), and
// their p99. Every result of the type writes it, from the goroutines of
// all the requests: no lock on that path, and the one result in
// tryRecomputeEvery that recomputes the p99 does it only if no other is.
type roundTrips struct {
	seen      atomic.Uint64 // results recorded
	ring      [tryRingSize]atomic.Uint64
	recompute sync.Mutex    // held by the goroutine recomputing p99, never waited for
	p99       atomic.Uint64 // math.Float64bits; 0 until the first result
}

// observe records a result of task code that took rtt for load.
func (t *tryTimeouts) observe(code uint8, rtt time.Duration, load uint64) {
	r := t.types[code].Load()
	if r == nil {
		t.types[code].CompareAndSwap(nil, &roundTrips{})
		r = t.types[code].Load()
	}
	v := max(rtt.Seconds()/float64(max(load, 1)), math.SmallestNonzeroFloat64) // 0 marks an empty slot
	seen := r.seen.Add(1)
	r.ring[(seen-1)%tryRingSize].Store(math.Float64bits(v))
	if (seen <= tryRecomputeEvery || seen%tryRecomputeEvery == 0) && r.recompute.TryLock() {
		r.p99.Store(math.Float64bits(r.quantile99()))
		r.recompute.Unlock()
	}
}

// quantile99 is the p99 of the samples in the ring (the sample of rank
// ⌈0.99·n⌉ of n), found in one pass that keeps the largest few. A slot
// another result is writing meanwhile counts with its old or new value.
func (r *roundTrips) quantile99() float64 {
	var top [tryTopKept]float64 // the largest samples, largest first
	n := 0
	for i := range r.ring {
		v := math.Float64frombits(r.ring[i].Load())
		if v == 0 {
			continue
		}
		n++
		for j := range top { // insert v, dropping the smallest kept
			if v > top[j] {
				v, top[j] = top[j], v
			}
		}
	}
	if n == 0 {
		return 0
	}
	return top[n-int(math.Ceil(0.99*float64(n)))]
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
