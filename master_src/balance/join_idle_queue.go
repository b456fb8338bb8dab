package balance

// joinIdleQueue is Join-Idle-Queue (Lu et al., Performance Evaluation
// 2011): slaves tell the master when a worker goes idle (Figures.Idle), and
// a task goes to a slave known to be idle, the one with the most idle
// workers first (ties: fewer in flight, then round robin); when none is, to
// the one with fewer tasks in flight of two drawn at random (the master's
// own counts; a slave with a free worker first). The owner lowers Idle at
// each placement, so an idle notice is used once.
type joinIdleQueue struct {
	idle *ranking // the slaves with Idle > 0
	draws
}

func newJoinIdleQueue(seed uint64) *joinIdleQueue {
	return &joinIdleQueue{idle: newRanking(), draws: newDraws(seed)}
}

func (j *joinIdleQueue) Track(s Slave) {
	j.draws.Track(s)
	if f := s.Figures(); f.Idle > 0 {
		j.idle.file(s, -float64(f.Idle))
	} else {
		j.idle.remove(s)
	}
}

func (j *joinIdleQueue) Untrack(s Slave) {
	j.draws.Untrack(s)
	j.idle.remove(s)
}

func (j *joinIdleQueue) Pick(c *Choice) Slave {
	if s := j.idle.pick(lowest, c); s != nil {
		return s
	}
	a, b := j.two(c)
	if b != nil && b.Figures().InFlight < a.Figures().InFlight {
		return b
	}
	return a
}
