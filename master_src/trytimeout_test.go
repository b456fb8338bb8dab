package master

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestTryTimeouts(t *testing.T) {
	t.Parallel()
	const floor, ceiling = 50 * time.Millisecond, 10 * time.Second
	for _, c := range []struct {
		name    string
		samples int
		rtt     time.Duration // each sample's round trip, for load 10
		load    uint64
		want    time.Duration
	}{
		{"no result yet", 0, 0, 10, tryUnknown},
		{"one result", 1, 10 * time.Millisecond, 100, time.Second},
		{"fast type: the floor", 20, time.Millisecond, 10, floor},
		{"10 x p99, scaled by load", 20, 10 * time.Millisecond, 100, time.Second},
		{"capped at the task timeout", 20, time.Second, 1000, ceiling},
	} {
		t.Run(c.name, func(t *testing.T) {
			tt := newTryTimeouts(floor)
			for i := 0; i < c.samples; i++ {
				tt.observe(3, c.rtt, 10)
			}
			got := tt.timeout(3, c.load, ceiling)
			if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("timeout %s, want %s", got, c.want)
			}
			if other := tt.timeout(4, c.load, ceiling); other != tryUnknown {
				t.Fatalf("another type's timeout %s, want %s", other, tryUnknown)
			}
		})
	}
}

// The p99 follows the recent results: two slow results in a hundred set it,
// and the ring forgets results older than its size.
func TestTryTimeoutsP99(t *testing.T) {
	t.Parallel()
	tt := newTryTimeouts(0)
	for i := 0; i < 99; i++ {
		tt.observe(1, time.Millisecond, 1)
	}
	tt.observe(1, 100*time.Millisecond, 1)
	tt.observe(1, 100*time.Millisecond, 1)
	for i := 0; i < tryRecomputeEvery; i++ {
		tt.observe(1, time.Millisecond, 1)
	}
	if got := tt.timeout(1, 1, time.Hour); got != time.Second {
		t.Fatalf("timeout %s, want 10 x the 100 ms p99", got)
	}
	for i := 0; i < tryRingSize; i++ {
		tt.observe(1, time.Millisecond, 1)
	}
	if got := tt.timeout(1, 1, time.Hour); got != 10*time.Millisecond {
		t.Fatalf("timeout %s after the slow result left the ring, want 10 ms", got)
	}
}

// The one-pass p99 is the sorted samples' element of rank ⌈0.99·n⌉, for
// every fill of the ring, with ties, and after it wraps.
func TestTryTimeoutsQuantileMatchesSort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= tryRingSize+40; n++ {
		var r roundTrips
		var all []float64
		for i := 0; i < n; i++ {
			v := float64(rng.IntN(50) + 1) // ties on purpose
			r.ring[i%tryRingSize].Store(math.Float64bits(v))
			all = append(all, v)
		}
		kept := all[max(0, len(all)-tryRingSize):]
		sorted := slices.Sorted(slices.Values(kept))
		want := sorted[int(math.Ceil(0.99*float64(len(sorted))))-1]
		if got := r.quantile99(); got != want {
			t.Fatalf("n=%d: p99 %v, want %v", n, got, want)
		}
	}
}
