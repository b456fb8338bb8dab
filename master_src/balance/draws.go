package balance

import "math/rand/v2"

// draws picks slaves that fit at random, for the algorithms that sample the
// pool. Draws are from the whole pool, redrawn when the slave does not fit;
// only when few fit does it list them.
type draws struct {
	rng  *rand.Rand
	fits []Slave // scratch
}

// maxRedraws bounds the random draws before listing the slaves that fit.
const maxRedraws = 8

func newDraws(seed uint64) draws {
	return draws{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// one returns a slave that fits, drawn uniformly, or nil when none fits.
func (d *draws) one(c *Choice) Slave {
	a, _ := d.draw(c, 1)
	return a
}

// two returns two distinct slaves that fit, drawn uniformly without
// replacement; b is nil when only one fits, both when none does.
func (d *draws) two(c *Choice) (a, b Slave) { return d.draw(c, 2) }

func (d *draws) draw(c *Choice, want int) (a, b Slave) {
	if len(c.Slaves) == 0 {
		return nil, nil
	}
	for range maxRedraws {
		s := c.Slaves[d.rng.IntN(len(c.Slaves))]
		if s == a || !c.Fits(s) {
			continue
		}
		if a != nil {
			return a, s
		}
		a = s
		if want == 1 {
			return a, nil
		}
	}
	d.fits = d.fits[:0]
	for _, s := range c.Slaves {
		if c.Fits(s) {
			d.fits = append(d.fits, s)
		}
	}
	defer clear(d.fits) // holds no slave after the placement
	switch {
	case len(d.fits) == 0:
		return nil, nil
	case len(d.fits) == 1:
		return d.fits[0], nil
	}
	i := d.rng.IntN(len(d.fits))
	if want == 1 {
		return d.fits[i], nil
	}
	j := d.rng.IntN(len(d.fits) - 1)
	if j >= i {
		j++
	}
	return d.fits[i], d.fits[j]
}
