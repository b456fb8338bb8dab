package balance

import (
	"math"

	"github.com/google/btree"
)

// rank is where a slave stands in a ranking: by a figure the algorithm
// computes, then fewer tasks in flight, then join order.
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

// lowest starts a search at the beginning of a ranking.
var lowest = math.Inf(-1)

// ranking keeps slaves ordered by rank in a B-tree: filing a slave again
// after its figures changed is O(log N), and so is finding the best one
// that fits (while the best ones have room, the first looked at fits).
type ranking struct {
	tree   *btree.BTreeG[rank]
	filed  map[*Figures]rank
	slaves map[*Figures]Slave // the slave each filed figures belong to

	// The search in progress (first), and its visitor made once, so a
	// search allocates nothing.
	want  *Choice
	found Slave
	visit btree.ItemIteratorG[rank]
}

func newRanking() *ranking {
	r := &ranking{tree: btree.NewG(16, rank.less), filed: map[*Figures]rank{}, slaves: map[*Figures]Slave{}}
	r.visit = func(k rank) bool {
		if s := r.slaves[k.f]; r.want.Fits(s) {
			r.found = s
			return false
		}
		return true
	}
	return r
}

// file puts s in the ranking with figure, in place of where it stood.
func (r *ranking) file(s Slave, figure float64) {
	f := s.Figures()
	if k, ok := r.filed[f]; ok {
		r.tree.Delete(k)
	} else {
		r.slaves[f] = s
	}
	k := rank{figure: figure, inFlight: f.InFlight, seq: f.Seq, f: f}
	r.tree.ReplaceOrInsert(k)
	r.filed[f] = k
}

func (r *ranking) remove(s Slave) {
	f := s.Figures()
	if k, ok := r.filed[f]; ok {
		r.tree.Delete(k)
		delete(r.filed, f)
		delete(r.slaves, f)
	}
}

// first returns the best-ranked slave with a figure of at least from that
// fits c, or nil.
func (r *ranking) first(from float64, c *Choice) Slave {
	r.want, r.found = c, nil
	r.tree.AscendGreaterOrEqual(rank{figure: from, inFlight: math.MinInt}, r.visit)
	found := r.found
	r.want, r.found = nil, nil
	return found
}
