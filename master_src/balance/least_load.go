package balance

// leastLoad takes the slave with the smallest load; ties go to fewer tasks
// in flight, then round robin among the tied (after the last one chosen),
// as nginx's least_conn and HAProxy's leastconn do, so an idle pool shares
// the work. Slaves with a free worker come before any without.
type leastLoad struct{ byLoad *ranking }

func (l *leastLoad) Track(s Slave)        { l.byLoad.file(s, s.Figures().Load()) }
func (l *leastLoad) Untrack(s Slave)      { l.byLoad.remove(s) }
func (l *leastLoad) Pick(c *Choice) Slave { return l.byLoad.pick(lowest, c) }

// leastDifference is best fit: the slave left with the least room once the
// task is placed, keeping large gaps free for large tasks. Ties as for
// leastLoad, and slaves with a free worker come first. Slaves are ordered
// by free room, and the search starts at the task's load.
type leastDifference struct{ byRoom *ranking }

func (l *leastDifference) Track(s Slave) {
	f := s.Figures()
	free := uint64(0)
	if f.MaxLoad > f.Committed {
		free = f.MaxLoad - f.Committed
	}
	l.byRoom.file(s, float64(free))
}
func (l *leastDifference) Untrack(s Slave) { l.byRoom.remove(s) }

func (l *leastDifference) Pick(c *Choice) Slave {
	return l.byRoom.pick(float64(c.Load), c)
}
