package balance

import "math"

// roundRobin takes the first slave that fits among those that joined after
// the last one it chose, wrapping around; a slave with a free worker before
// any without (the cycle goes on among those with one). Remembering the
// last choice by join sequence (not by index) means a join or leave neither
// restarts the cycle nor skips anyone: newcomers take their turn at the end
// of the cycle. The slaves are kept in join order in a B-tree, so finding
// the place in the cycle is O(log N); then, while slaves have room, the
// first one looked at fits.
type roundRobin struct {
	byJoin *ranking
	last   uint64
}

func (r *roundRobin) Track(s Slave)   { r.byJoin.file(s, 0) }
func (r *roundRobin) Untrack(s Slave) { r.byJoin.remove(s) }

func (r *roundRobin) Pick(c *Choice) Slave {
	for _, busy := range [...]bool{false, true} {
		s := r.byJoin.search(busy, rank{figure: float64(r.last + 1), inFlight: math.MinInt}, false, c)
		if s == nil {
			s = r.byJoin.search(busy, rank{figure: lowest, inFlight: math.MinInt}, false, c)
		}
		if s != nil {
			r.last = s.Figures().Seq
			return s
		}
	}
	return nil
}
