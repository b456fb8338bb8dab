package balance

import "math/rand/v2"

// slowStartFloor is the share a slave takes the moment it (re)enters the
// pool: Envoy's default min_weight_percent.
const slowStartFloor = 0.1

// Weight is the share of its turns a slave takes while it warms up: from
// slowStartFloor when it entered (WarmSince), rising linearly to 1 at
// SlowStart later (Envoy's slow start with aggression 1.0, HAProxy's
// slowstart); 1 when slow start is off or the slave is warm.
func (c *Choice) Weight(f *Figures) float64 {
	if c.SlowStart <= 0 || f.WarmSince.IsZero() {
		return 1
	}
	age := c.Now.Sub(f.WarmSince)
	if age >= c.SlowStart {
		return 1
	}
	return max(slowStartFloor, float64(age)/float64(c.SlowStart))
}

// maxPasses bounds how many warming slaves one placement passes over.
const maxPasses = 4

// slowStart applies slow start the same way to every algorithm: when the
// algorithm's choice is a warming slave of weight w, a seeded draw passes it
// over with probability 1−w and the algorithm chooses again without it.
// The pass counts as the slave's turn (round robin moves on past it,
// weighted round robin's deadline advances), so over its turns the slave
// takes a share w, and a least-load rule cannot flood a newcomer that looks
// empty. When nothing else fits, or every choice was passed over, the
// first choice takes the task. The draws are seeded: a simulation repeats.
type slowStart struct {
	Algorithm
	rng  *rand.Rand
	skip []Slave // scratch: the choice's Skip plus the slaves passed over
}

func withSlowStart(a Algorithm, seed uint64) *slowStart {
	return &slowStart{Algorithm: a, rng: rand.New(rand.NewPCG(seed^0x5bd1e995, seed))}
}

func (w *slowStart) Pick(c *Choice) Slave {
	first := w.Algorithm.Pick(c)
	if c.SlowStart <= 0 || first == nil || !w.passes(c, first) {
		return first
	}
	refused := c.Skip
	w.skip = append(w.skip[:0], refused...)
	defer func() {
		c.Skip = refused
		clear(w.skip) // holds no slave after the placement
	}()
	for s := first; len(w.skip) < len(refused)+maxPasses; {
		w.skip = append(w.skip, s)
		c.Skip = w.skip
		if s = w.Algorithm.Pick(c); s == nil {
			return first
		}
		if !w.passes(c, s) {
			return s
		}
	}
	return first
}

// passes draws whether s, if warming, is passed over this time.
func (w *slowStart) passes(c *Choice, s Slave) bool {
	weight := c.Weight(s.Figures())
	return weight < 1 && w.rng.Float64() >= weight
}
