package balance

// shortestQueue joins the shortest queue, ties to the fastest slave: the
// slave with the fewest tasks in flight per worker, and among those the one
// with the shortest computing time per task (Figures.Service, which leaves
// out the time tasks waited for a worker, so it measures the host's speed
// and not its queue). On a pool of unequal hosts with idle slaves to spare,
// least_load spreads tasks over idle fast and idle slow slaves alike, and
// the slow ones' service times make its tail; this rule sends each task to
// an idle fast slave while there is one. (Weighting the queue by speed, as
// shortest-expected-delay does, was worse in the lab: it queues tasks on
// fast slaves while slow ones sit idle.)
//
// A slave with no result yet is priced at the mean Service of those with
// one, so a newcomer gets work without being flooded. Further ties: fewer in
// flight, then round robin after the last choice; slaves with a free worker
// come before any without (with workers reported, one whose tasks in flight
// per worker is below 1). Two rankings keep the choice O(log N): slaves with
// a Service, and those without.
type shortestQueue struct {
	known, unknown *ranking
	sum            float64              // the filed Services' sum
	count          int                  // and how many there are
	filed          map[*Figures]float64 // the Service filed for each slave (0: in unknown)
	last           uint64               // join number of the last choice: ties go round robin after it
}

func newShortestQueue() *shortestQueue {
	return &shortestQueue{known: newRanking(), unknown: newRanking(), filed: map[*Figures]float64{}}
}

// queueFigure orders slaves by tasks in flight per worker, then by svc: the
// fraction svc/(svc+1) < 1 breaks ties without ever outweighing a task.
func queueFigure(f *Figures, svc float64) float64 {
	return (float64(f.InFlight) + svc/(svc+1)) / float64(max(f.Workers, 1))
}

func (l *shortestQueue) Track(s Slave) {
	f := s.Figures()
	l.forget(f)
	l.filed[f] = f.Service
	if f.Service > 0 {
		l.sum += f.Service
		l.count++
		l.unknown.remove(s)
		l.known.file(s, queueFigure(f, f.Service))
		return
	}
	l.known.remove(s)
	l.unknown.file(s, queueFigure(f, 0))
}

// forget takes f's filed Service out of the mean.
func (l *shortestQueue) forget(f *Figures) {
	if svc := l.filed[f]; svc > 0 {
		l.sum -= svc
		l.count--
		if l.count == 0 {
			l.sum = 0 // no rounding residue carried into the next mean
		}
	}
}

func (l *shortestQueue) Untrack(s Slave) {
	f := s.Figures()
	l.forget(f)
	delete(l.filed, f)
	l.known.remove(s)
	l.unknown.remove(s)
}

func (l *shortestQueue) Pick(c *Choice) Slave {
	known, fresh := l.known.first(lowest, c), l.unknown.first(lowest, c)
	if known != nil {
		known = l.known.after(known, l.last, c)
	}
	if fresh != nil {
		fresh = l.unknown.after(fresh, l.last, c)
	}
	s := l.sooner(known, fresh)
	if s != nil {
		l.last = s.Figures().Seq
	}
	return s
}

// sooner returns the better of the best slave with a Service and the best
// without (either may be nil).
func (l *shortestQueue) sooner(known, fresh Slave) Slave {
	if known == nil || fresh == nil {
		if known == nil {
			return fresh
		}
		return known
	}
	kf, ff := known.Figures(), fresh.Figures()
	k := classed{busy: !kf.FreeWorker(), rank: rank{figure: queueFigure(kf, l.filed[kf]), inFlight: kf.InFlight}}
	f := classed{busy: !ff.FreeWorker(), rank: rank{figure: queueFigure(ff, l.sum/float64(l.count)), inFlight: ff.InFlight}}
	if f.less(k) || (f.tied(k) && sooner(ff.Seq, kf.Seq, l.last)) {
		return fresh
	}
	return known
}
