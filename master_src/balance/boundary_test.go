package balance

import (
	"math"
	"testing"
	"time"
)

// Fits at its exact edges: a slave holding MaxInFlight tasks takes no more,
// and a load that would overflow the committed sum never fits however large
// the max load.
func TestFitsBoundaries(t *testing.T) {
	t.Parallel()
	base := func() *Figures {
		f := &Figures{MaxLoad: 10, MaxInFlight: 2}
		f.Offers.Add(testTask)
		return f
	}
	tests := []struct {
		name string
		set  func(*Figures)
		load uint64
		want bool
	}{
		{"one below the bound on tasks", func(f *Figures) { f.InFlight = 1 }, 1, true},
		{"at the bound on tasks", func(f *Figures) { f.InFlight = 2 }, 1, false},
		{"no bound on tasks", func(f *Figures) { f.InFlight, f.MaxInFlight = 1000, 0 }, 1, true},
		{"load exactly at the max", func(f *Figures) { f.Committed = 7 }, 3, true},
		{"load one over the max", func(f *Figures) { f.Committed = 8 }, 3, false},
		{"a sum that overflows", func(f *Figures) { f.Committed, f.MaxLoad = math.MaxUint64-1, math.MaxUint64 }, 5, false},
	}
	for _, tt := range tests {
		f := base()
		tt.set(f)
		c := &Choice{Task: testTask, Load: tt.load}
		if got := c.Fits(f); got != tt.want {
			t.Errorf("%s: Fits %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Slow start passes over up to maxPasses warming slaves in one placement:
// with four slaves just joined ahead of a warm one, first_available gives
// the warm one the task unless one of the four draws its turn (each keeps
// a tenth), so about 0.9⁴ of the placements.
func TestSlowStartPassesSeveralWarmingSlaves(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0)
	const n = 20000
	a, _ := NewSeeded("first_available", 3)
	ms := slaves(a, slave{}, slave{}, slave{}, slave{}, slave{})
	for _, m := range ms[:4] {
		m.WarmSince = t0
	}
	c := &Choice{Task: testTask, Load: testLoad, Slaves: views(ms), Now: t0, SlowStart: 10 * time.Second}
	warm := 0
	for range n {
		if a.Pick(c) == Slave(ms[4]) {
			warm++
		}
	}
	// Binomial: sd under 0.0034; 4 sd.
	if share, want := float64(warm)/n, math.Pow(1-slowStartFloor, maxPasses); math.Abs(share-want) > 0.014 {
		t.Errorf("the warm slave behind four warming ones took %.3f of the placements, want %.3f", share, want)
	}
}
