package balance

import "math/rand/v2"

// draws picks slaves that fit at random, for the algorithms that sample the
// pool, slaves with a free worker first: draws are from the tracked slaves
// with a free worker, then, when none of those fits, from the whole pool.
// A slave drawn that does not fit is redrawn; only when few fit does it
// list them. The algorithms that embed draws track the pool through it.
type draws struct {
	rng  *rand.Rand
	free []Slave          // the tracked slaves with a free worker
	at   map[*Figures]int // index of each in free
	fits []Slave          // scratch
}

// maxRedraws bounds the random draws before listing the slaves that fit.
const maxRedraws = 8

func newDraws(seed uint64) draws {
	return draws{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), at: map[*Figures]int{}}
}

// Track keeps s in the free list while it has a free worker: O(1).
func (d *draws) Track(s Slave) {
	f := s.Figures()
	_, listed := d.at[f]
	switch free := f.FreeWorker(); {
	case free && !listed:
		d.at[f] = len(d.free)
		d.free = append(d.free, s)
	case !free && listed:
		d.Untrack(s)
	}
}

// Untrack drops s from the free list, moving the last one into its place.
func (d *draws) Untrack(s Slave) {
	f := s.Figures()
	i, ok := d.at[f]
	if !ok {
		return
	}
	last := len(d.free) - 1
	d.free[i] = d.free[last]
	d.at[d.free[i].Figures()] = i
	d.free[last] = nil
	d.free = d.free[:last]
	delete(d.at, f)
}

// one returns a slave that fits, drawn uniformly, or nil when none fits.
func (d *draws) one(c *Choice) Slave {
	a, _ := d.draw(c, 1)
	return a
}

// two returns two distinct slaves that fit, drawn uniformly without
// replacement; b is nil when only one fits, both when none does. Both have
// a free worker, or neither does.
func (d *draws) two(c *Choice) (a, b Slave) { return d.draw(c, 2) }

func (d *draws) draw(c *Choice, want int) (a, b Slave) {
	if a, b = d.among(c, d.free, want); a != nil {
		return a, b
	}
	return d.among(c, c.Slaves, want)
}

// among draws want slaves that fit from among.
func (d *draws) among(c *Choice, among []Slave, want int) (a, b Slave) {
	if len(among) == 0 {
		return nil, nil
	}
	for range maxRedraws {
		s := among[d.rng.IntN(len(among))]
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
	for _, s := range among {
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
