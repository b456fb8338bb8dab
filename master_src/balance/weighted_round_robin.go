package balance

// weightedRoundRobin is gRPC's weighted round robin (gRFC A58): each slave
// weighs Rate/Utilisation, the tasks per second it would complete fully
// busy, from its load reports; a slave without both figures in its last
// report weighs the mean of those that have them (1 when none has), so one
// that a low weight starved of tasks gets some again and reports a better
// weight. Slaves are scheduled earliest deadline first: each has a deadline
// on a virtual clock, the choice is the earliest that fits (slaves with a
// free worker first; ties: fewer in flight, then join order), and its
// deadline moves on by 1/weight, so over a cycle each slave is chosen in
// proportion to its weight. O(log N) per choice.
//
// The free-worker preference picks a slave with a free worker whatever its
// deadline, so a slave that is often free runs ahead of its share and one
// that is often busy falls behind. Every deadline is therefore kept within
// one step of the clock, which moves on by 1/(total weight) per choice and
// never lags the earliest deadline: a slave is never owed, nor owes, more
// than one turn. Without that bound, once every worker is busy EDF repays
// the turns the free workers took by sending the slow slaves task after
// task, up to their cap (the real master's p99 of 60-79 mean service times
// on a 4:2:1:1 pool); turns counted at a weight a slave no longer has (the
// mean before the first reports, one noisy report) do the same. A slave
// placed in its turn is within a step of the clock anyway. A slave that
// joins takes the deadline of the clock plus its step.
type weightedRoundRobin struct {
	byDeadline *ranking
	filed      map[Slave]*wrrEntry
	clock      float64 // the virtual time
	sum        float64 // of the known weights
	known      int     // slaves with a known weight
}

type wrrEntry struct {
	deadline, weight float64 // weight 0: unknown
}

func newWeightedRoundRobin() *weightedRoundRobin {
	return &weightedRoundRobin{byDeadline: newRanking(), filed: map[Slave]*wrrEntry{}}
}

// weightOf is A58's weight: completion rate over utilisation, 0 when the
// slave reported neither.
func weightOf(f *Figures) float64 {
	if f.Rate <= 0 || f.Utilisation <= 0 {
		return 0
	}
	return f.Rate / f.Utilisation
}

// step is how far a choice moves e's deadline.
func (w *weightedRoundRobin) step(e *wrrEntry) float64 {
	switch {
	case e.weight > 0:
		return 1 / e.weight
	case w.known > 0:
		return float64(w.known) / w.sum
	default:
		return 1
	}
}

// total is the sum of the weights, the unknown ones at the mean.
func (w *weightedRoundRobin) total() float64 {
	if w.known == 0 {
		return float64(len(w.filed))
	}
	return w.sum * float64(len(w.filed)) / float64(w.known)
}

// near brings e's deadline within one step of the clock.
func (w *weightedRoundRobin) near(e *wrrEntry) {
	step := w.step(e)
	e.deadline = min(max(e.deadline, w.clock-step), w.clock+step)
}

func (w *weightedRoundRobin) setWeight(e *wrrEntry, weight float64) {
	if e.weight > 0 {
		w.sum -= e.weight
		w.known--
	}
	e.weight = weight
	if weight > 0 {
		w.sum += weight
		w.known++
	}
	if w.known == 0 {
		w.sum = 0 // no rounding residue carried into the next mean
	}
}

func (w *weightedRoundRobin) Track(s Slave) {
	e := w.filed[s]
	if e == nil {
		e = &wrrEntry{}
		w.filed[s] = e
		w.setWeight(e, weightOf(s.Figures()))
		e.deadline = w.clock + w.step(e)
	} else {
		w.setWeight(e, weightOf(s.Figures()))
	}
	w.near(e)
	w.byDeadline.file(s, e.deadline)
}

func (w *weightedRoundRobin) Untrack(s Slave) {
	if e := w.filed[s]; e != nil {
		w.setWeight(e, 0)
		delete(w.filed, s)
		w.byDeadline.remove(s)
	}
}

func (w *weightedRoundRobin) Pick(c *Choice) Slave {
	s := w.byDeadline.first(lowest, c)
	if s == nil {
		return nil
	}
	e := w.filed[s]
	w.near(e)
	e.deadline += w.step(e)
	w.byDeadline.file(s, e.deadline)
	// The fluid clock alone drifts behind the deadlines when weights are
	// noisy (steps average more than 1/mean weight); the clamp would then
	// undo each choice's step and keep choosing the same slave.
	w.clock = max(w.clock+1/w.total(), w.byDeadline.lowestFigure())
	return s
}
