package bench

import (
	"math/rand/v2"
	"time"
)

// arrivals is the open loop's schedule: a Poisson process of the given
// average rate (exponential gaps), seeded, so two runs with the same seed
// send at the same offsets. With bursts, the process runs in "active time"
// only (during On windows), at rate·(On+Off)/On, so the long-run average stays
// the rate asked for.
type arrivals struct {
	rng    *rand.Rand
	rate   float64 // per second of active time
	burst  *Burst
	active float64 // seconds of active time elapsed
}

func newArrivals(rng *rand.Rand, rate float64, burst *Burst) *arrivals {
	a := &arrivals{rng: rng, rate: rate, burst: burst}
	if burst != nil && burst.Off > 0 {
		a.rate = rate * float64(burst.On+burst.Off) / float64(burst.On)
	}
	return a
}

// next returns the offset from the start of the run at which the next
// request is due.
func (a *arrivals) next() time.Duration {
	a.active += a.rng.ExpFloat64() / a.rate
	t := time.Duration(a.active * float64(time.Second))
	if a.burst == nil || a.burst.Off == 0 {
		return t
	}
	// Map active time to wall time: every full On window is followed by Off.
	windows := t / a.burst.On
	return windows*(a.burst.On+a.burst.Off) + t%a.burst.On
}
