package balance

// leastLatency takes the slave expected to answer soonest: its peak-EWMA
// round trip per unit of load, for tasks of this type, times its tasks in
// flight plus this one (Finagle's and Linkerd's peak-EWMA). A slave with no
// observation yet is priced at the mean of the pool's slaves with one (full
// or draining ones included: the mean describes the hosts, not who has room
// now), so newcomers get work without being flooded. Ties: fewer in flight,
// then round robin after the last choice; slaves with a free worker come
// before any without. Per task type it keeps two orders: the slaves with an
// observation by score, those without by tasks in flight; the best of each
// is compared. Task types are indexed by code, as in Figures.Latency.
type leastLatency struct {
	known, unknown []*ranking              // by task code; nil until a placement asks for the type
	sum            []float64               // by task code: the observed latencies' sum
	count          []int                   // and how many slaves have one
	active         []int                   // the task codes ranked, in the order first asked for
	filed          map[*Figures]*latencies // by slave
	last           uint64                  // join number of the last choice: ties go round robin after it
}

// latencies are a tracked slave and the latency filed for it, by task code.
type latencies struct {
	s   Slave
	lat []float64
}

func newLeastLatency() *leastLatency {
	return &leastLatency{filed: map[*Figures]*latencies{}}
}

// activate starts ranking task code t the first time a placement asks for
// it, filing every tracked slave. Track keeps only the ranked types up to
// date: a slave's figures change with every placement and answer, and
// re-filing it for all 256 codes a task can have cost 30-200 µs a
// placement.
func (l *leastLatency) activate(t int) {
	for len(l.known) <= t {
		l.known, l.unknown = append(l.known, nil), append(l.unknown, nil)
		l.sum, l.count = append(l.sum, 0), append(l.count, 0)
	}
	if l.known[t] != nil {
		return
	}
	l.known[t], l.unknown[t] = newRanking(), newRanking()
	l.active = append(l.active, t)
	for _, x := range l.filed {
		l.refile(t, x)
	}
}

func (l *leastLatency) Track(s Slave) {
	f := s.Figures()
	x := l.filed[f]
	if x == nil {
		x = &latencies{s: s}
		l.filed[f] = x
	}
	for _, t := range l.active {
		l.refile(t, x)
	}
}

// refile brings x's filing for ranked task code t up to date with its
// figures: by score if it has an observation, else among the unobserved.
func (l *leastLatency) refile(t int, x *latencies) {
	s, f := x.s, x.s.Figures()
	for len(x.lat) <= t {
		x.lat = append(x.lat, 0)
	}
	lat := 0.0
	if t < len(f.Latency) {
		lat = f.Latency[t].Value
	}
	l.forget(t, x.lat[t])
	x.lat[t] = lat
	if lat > 0 {
		l.sum[t] += lat
		l.count[t]++
		l.unknown[t].remove(s)
		l.known[t].file(s, lat*float64(f.InFlight+1))
	} else {
		l.known[t].remove(s)
		l.unknown[t].file(s, 0)
	}
}

// forget takes a slave's filed latency for task t out of the mean.
func (l *leastLatency) forget(t int, lat float64) {
	if lat > 0 {
		l.sum[t] -= lat
		l.count[t]--
		if l.count[t] == 0 {
			l.sum[t] = 0 // no rounding residue carried into the next mean
		}
	}
}

func (l *leastLatency) Untrack(s Slave) {
	f := s.Figures()
	x := l.filed[f]
	if x == nil {
		return
	}
	for _, t := range l.active {
		l.forget(t, x.lat[t])
		l.known[t].remove(s)
		l.unknown[t].remove(s)
	}
	delete(l.filed, f)
}

func (l *leastLatency) Pick(c *Choice) Slave {
	l.activate(int(c.Task))
	known, unknown := l.known[c.Task], l.unknown[c.Task]
	k, f := known.first(lowest, c), unknown.first(lowest, c)
	if k != nil {
		k = known.after(k, l.last, c)
	}
	if f != nil {
		f = unknown.after(f, l.last, c)
	}
	s := l.sooner(c, k, f)
	if s != nil {
		l.last = s.Figures().Seq
	}
	return s
}

// sooner returns whichever of the best observed slave known and the best
// unobserved one fresh is expected to answer first (either may be nil).
func (l *leastLatency) sooner(c *Choice, known, fresh Slave) Slave {
	if known == nil || fresh == nil {
		if known == nil {
			return fresh
		}
		return known
	}
	t := int(c.Task)
	prior := l.sum[t] / float64(l.count[t])
	kf, ff := known.Figures(), fresh.Figures()
	k := classed{busy: !kf.FreeWorker(), rank: rank{figure: l.filed[kf].lat[t] * float64(kf.InFlight+1), inFlight: kf.InFlight}}
	f := classed{busy: !ff.FreeWorker(), rank: rank{figure: prior * float64(ff.InFlight+1), inFlight: ff.InFlight}}
	if f.less(k) || (f.tied(k) && sooner(ff.Seq, kf.Seq, l.last)) {
		return fresh
	}
	return known
}
