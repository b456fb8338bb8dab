package balance

import (
	"slices"
)

// prequal is Prequal's hot-cold lexicographic rule (Wydrowski et al., "Load
// is not what you should balance", NSDI 2024). It keeps a small pool of
// probes, slaves drawn at random (prequalProbes fresh draws per choice
// replace the oldest). A probe reads the slave's requests in flight (RIF)
// and the latency a task placed there now would see. The probes whose RIF
// is above the pool's prequalHot quantile are hot; among the cold ones it
// takes the lowest latency (a slave with no result yet counts as fastest, so
// it gets work until its RIF makes it hot). Ties: fewer in flight, then join
// order. When a probe that fits has a free worker, only those compete.
//
// A probe reads the master's figures when the choice is made: InFlight is
// the master's own count of the slave's requests in flight (placed and not
// finished, which for a single master is the slave's RIF, fresher than any
// probe message could be), and the latency is the slave's recent computing
// time per task times RIF+1, Prequal's latency at the current RIF for a
// FIFO slave. (The round trips themselves are no estimate: they lag the
// queue they waited in, and led the rule to pile tasks on the slaves that
// had been fast.) So a probe costs no message: its rate is the choice rate,
// prequalProbes per choice. Each choice costs O(prequalPool).
type prequal struct {
	draws
	pool []Slave // the probes, at most prequalPool
	next int     // the oldest probe, replaced first
	rifs []int   // scratch
}

const (
	// prequalPool is the probe pool's size, Prequal's default.
	prequalPool = 16
	// prequalProbes is how many fresh probes each choice draws: enough to
	// renew the pool every eight choices.
	prequalProbes = 2
	// prequalHot is the RIF quantile above which a probe is hot.
	prequalHot = 0.84
)

func newPrequal(seed uint64) *prequal { return &prequal{draws: newDraws(seed)} }

func (p *prequal) Untrack(s Slave) {
	p.draws.Untrack(s)
	if i := slices.Index(p.pool, s); i >= 0 {
		p.pool = slices.Delete(p.pool, i, i+1)
		p.next = 0
	}
}

func (p *prequal) Pick(c *Choice) Slave {
	for range prequalProbes {
		p.probe(c)
	}
	best := p.choose(c, p.pool)
	if best == nil {
		// No probe fits (the pool is full or refused the task): choose among
		// every slave that fits, by the same rule.
		best = p.choose(c, c.Slaves)
	}
	return best
}

// probe adds a random slave that fits to the pool, replacing the oldest.
func (p *prequal) probe(c *Choice) {
	s := p.one(c)
	switch {
	case s == nil || slices.Contains(p.pool, s):
	case len(p.pool) < prequalPool:
		p.pool = append(p.pool, s)
	default:
		p.pool[p.next] = s
		p.next = (p.next + 1) % prequalPool
	}
}

// choose applies the hot-cold rule to the slaves in among that fit c, only
// to those with a free worker if any has one.
func (p *prequal) choose(c *Choice, among []Slave) Slave {
	free := false
	for _, s := range among {
		if free = c.Fits(s) && s.Figures().FreeWorker(); free {
			break
		}
	}
	p.rifs = p.rifs[:0]
	for _, s := range among {
		if c.Fits(s) && (!free || s.Figures().FreeWorker()) {
			p.rifs = append(p.rifs, s.Figures().InFlight)
		}
	}
	if len(p.rifs) == 0 {
		return nil
	}
	slices.Sort(p.rifs)
	hot := p.rifs[int(prequalHot*float64(len(p.rifs)-1))]
	var best Slave
	var bestRank rank
	for _, s := range among {
		f := s.Figures()
		if f.InFlight > hot || !c.Fits(s) || (free && !f.FreeWorker()) {
			continue
		}
		lat := f.Service * float64(f.InFlight+1)
		if r := (rank{figure: lat, inFlight: f.InFlight, seq: f.Seq}); best == nil || r.less(bestRank) {
			best, bestRank = s, r
		}
	}
	return best
}
