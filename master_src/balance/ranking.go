package balance

import (
	"math"

	"github.com/google/btree"
)

// rank is where a slave stands in a ranking within its class: by a figure
// the algorithm computes, then fewer tasks in flight, then join order.
type rank struct {
	figure   float64
	inFlight int
	seq      uint64
	f        *Figures // the slave's figures: a pointer keeps items small and map keys cheap
}

func (a rank) less(b rank) bool {
	switch {
	case a.figure != b.figure:
		return a.figure < b.figure
	case a.inFlight != b.inFlight:
		return a.inFlight < b.inFlight
	default:
		return a.seq < b.seq
	}
}

// tied reports whether a and b rank alike but for join order.
func (a rank) tied(b rank) bool { return a.figure == b.figure && a.inFlight == b.inFlight }

// classed is a rank with its class: the slaves with a free worker
// (Figures.FreeWorker) come before every slave without one.
type classed struct {
	busy bool
	rank
}

func (a classed) less(b classed) bool {
	if a.busy != b.busy {
		return !a.busy
	}
	return a.rank.less(b.rank)
}

func (a classed) tied(b classed) bool { return a.busy == b.busy && a.rank.tied(b.rank) }

// sooner reports whether join number a's turn comes before b's in a cycle
// that goes on after join number last.
func sooner(a, b, last uint64) bool {
	if (a > last) != (b > last) {
		return a > last
	}
	return a < b
}

// lowest starts a search at the beginning of a ranking.
var lowest = math.Inf(-1)

// ranking keeps slaves ordered in two B-trees, one per class (those with a
// free worker, those without), each by rank: filing a slave again after its
// figures changed is O(log N), and so is finding the best one that fits
// (while the best ones have room, the first looked at fits).
type ranking struct {
	trees  [2]*btree.BTreeG[rank] // by class: [0] a free worker, [1] none
	filed  map[*Figures]classed
	slaves map[*Figures]Slave // the slave each filed figures belong to
	// byJoin leaves tasks in flight out of the rank: the figure is the join
	// number, so they never decide, and refiling after a placement that
	// did not change the class is free.
	byJoin bool
	// last is the join number of the last slave pick returned: ties go
	// round robin after it.
	last uint64

	// The search in progress (search), and its visitor made once, so a
	// search allocates nothing.
	want  *Choice
	tie   rank // with ties set, the search stays within tie's tie
	ties  bool
	found Slave
	visit btree.ItemIteratorG[rank]
}

func newRanking() *ranking {
	r := &ranking{filed: map[*Figures]classed{}, slaves: map[*Figures]Slave{}}
	for i := range r.trees {
		r.trees[i] = btree.NewG(16, rank.less)
	}
	r.visit = func(k rank) bool {
		if r.ties && !k.tied(r.tie) {
			return false
		}
		if s := r.slaves[k.f]; r.want.Fits(s) {
			r.found = s
			return false
		}
		return true
	}
	return r
}

// newJoinRanking orders slaves by join order, those with a free worker
// first.
func newJoinRanking() *ranking {
	r := newRanking()
	r.byJoin = true
	return r
}

// class is the tree index of a class.
func class(busy bool) int {
	if busy {
		return 1
	}
	return 0
}

// file puts s in the ranking with figure, in place of where it stood.
func (r *ranking) file(s Slave, figure float64) {
	f := s.Figures()
	k := classed{busy: !f.FreeWorker(), rank: rank{figure: figure, inFlight: f.InFlight, seq: f.Seq, f: f}}
	if r.byJoin {
		k.figure, k.inFlight = float64(f.Seq), 0
	}
	if old, ok := r.filed[f]; ok {
		if old == k {
			return
		}
		r.trees[class(old.busy)].Delete(old.rank)
	} else {
		r.slaves[f] = s
	}
	r.trees[class(k.busy)].ReplaceOrInsert(k.rank)
	r.filed[f] = k
}

func (r *ranking) remove(s Slave) {
	f := s.Figures()
	if k, ok := r.filed[f]; ok {
		r.trees[class(k.busy)].Delete(k.rank)
		delete(r.filed, f)
		delete(r.slaves, f)
	}
}

// lowestFigure is the lowest figure filed in either class (+Inf when none
// is filed).
func (r *ranking) lowestFigure() float64 {
	low := math.Inf(1)
	for _, t := range r.trees {
		if k, ok := t.Min(); ok {
			low = min(low, k.figure)
		}
	}
	return low
}

// search returns the first slave of class busy from start on that fits c,
// staying within start's tie if ties; or nil.
func (r *ranking) search(busy bool, start rank, ties bool, c *Choice) Slave {
	t := r.trees[class(busy)]
	if t.Len() == 0 {
		return nil
	}
	r.want, r.tie, r.ties, r.found = c, start, ties, nil
	t.AscendGreaterOrEqual(start, r.visit)
	found := r.found
	r.want, r.tie.f, r.found = nil, nil, nil
	return found
}

// first returns the best-ranked slave with a figure of at least from that
// fits c, one with a free worker if any does; or nil. Among tied slaves it
// takes the first in join order.
func (r *ranking) first(from float64, c *Choice) Slave {
	for _, busy := range [...]bool{false, true} {
		if s := r.search(busy, rank{figure: from, inFlight: math.MinInt}, false, c); s != nil {
			return s
		}
	}
	return nil
}

// after returns, among the slaves that fit c and tie with best (a slave
// that fits), the one whose turn comes first after join number last.
func (r *ranking) after(best Slave, last uint64, c *Choice) Slave {
	k := r.filed[best.Figures()]
	if k.seq > last {
		return best // the first tied slave that fits is already past last
	}
	k.seq = last + 1
	if s := r.search(k.busy, k.rank, true, c); s != nil {
		return s
	}
	return best // wrap around to the first in join order
}

// pick is first with ties broken round robin: after the last slave pick
// returned.
func (r *ranking) pick(from float64, c *Choice) Slave {
	s := r.first(from, c)
	if s == nil {
		return nil
	}
	s = r.after(s, r.last, c)
	r.last = s.Figures().Seq
	return s
}
