package balance

import "sort"

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

func (r *roundRobin) Pick(c *Choice) Slave {
	n := len(c.Slaves)
	start := 0
	if r.started {
		start = sort.Search(n, func(i int) bool { return c.Slaves[i].Figures().Seq > r.last })
	}
	for k := 0; k < n; k++ {
		if s := c.Slaves[(start+k)%n]; c.Fits(s) {
			r.last, r.started = s.Figures().Seq, true
			return s
		}
	}
	return nil
}
