package balance

// powerOfTwo draws two slaves that fit at random, without replacement (both
// with a free worker while any that fits has one), and takes the less
// loaded (ties: fewer in flight, then the first drawn). Two
// random choices keep most of least-load's balance while staying robust to
// stale load figures, which make least-load herd (Mitzenmacher, "How useful
// is old information?").
type powerOfTwo struct{ draws }

func newPowerOfTwo(seed uint64) *powerOfTwo { return &powerOfTwo{draws: newDraws(seed)} }

func (p *powerOfTwo) Pick(c *Choice) Slave {
	a, b := p.two(c)
	if b == nil {
		return a
	}
	fa, fb := a.Figures(), b.Figures()
	if la, lb := fa.Load(), fb.Load(); lb < la || (lb == la && fb.InFlight < fa.InFlight) {
		return b
	}
	return a
}
