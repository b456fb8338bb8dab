package balance

import "math/rand/v2"

// powerOfTwo draws two slaves that fit at random, without replacement, and
// takes the less loaded (ties: fewer in flight, then the first drawn). Two
// random choices keep most of least-load's balance while staying robust to
// stale load figures, which make least-load herd (Mitzenmacher, "How useful
// is old information?"). Draws are from the whole pool, redrawn when the
// slave does not fit; only when few fit does it list them.
type powerOfTwo struct {
	inJoinOrder
	rng  *rand.Rand
	fits []Slave // scratch
}

// powerOfTwoDraws bounds the random draws before listing the slaves that fit.
const powerOfTwoDraws = 8

func newPowerOfTwo(seed uint64) *powerOfTwo {
	return &powerOfTwo{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *powerOfTwo) Pick(c *Choice) Slave {
	if len(c.Slaves) == 0 {
		return nil
	}
	var a, b Slave
	for range powerOfTwoDraws {
		s := c.Slaves[p.rng.IntN(len(c.Slaves))]
		if s == a || !c.Fits(s) {
			continue
		}
		if a != nil {
			b = s
			break
		}
		a = s
	}
	if b == nil {
		p.fits = p.fits[:0]
		for _, s := range c.Slaves {
			if c.Fits(s) {
				p.fits = append(p.fits, s)
			}
		}
		switch len(p.fits) {
		case 0:
			return nil
		case 1:
			s := p.fits[0]
			p.fits[0] = nil // holds no slave after the placement
			return s
		}
		i := p.rng.IntN(len(p.fits))
		j := p.rng.IntN(len(p.fits) - 1)
		if j >= i {
			j++
		}
		a, b = p.fits[i], p.fits[j]
		clear(p.fits)
	}
	fa, fb := a.Figures(), b.Figures()
	if la, lb := fa.Load(), fb.Load(); lb < la || (lb == la && fb.InFlight < fa.InFlight) {
		return b
	}
	return a
}
