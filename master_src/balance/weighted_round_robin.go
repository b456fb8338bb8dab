package balance

// weightedRoundRobin is gRPC's weighted round robin (gRFC A58): each slave
// weighs Rate/Utilisation, the tasks per second it would complete fully
// busy, from its load reports; a slave without both figures weighs the mean
// of those that have them (1 when none has). Slaves are scheduled earliest
// deadline first: each has a deadline on a virtual clock, the choice is the
// earliest that fits (slaves with a free worker first; ties: fewer in
// flight, then join order), and its
// deadline moves on by 1/weight, so over a cycle each slave is chosen in
// proportion to its weight. A slave that joins takes the deadline of the
// clock plus its step. O(log N) per choice.
type weightedRoundRobin struct {
	byDeadline *ranking
	filed      map[Slave]*wrrEntry
	clock      float64 // the deadline of the last choice
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
	w.clock = e.deadline
	e.deadline += w.step(e)
	w.byDeadline.file(s, e.deadline)
	return s
}
