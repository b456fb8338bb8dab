package tasks_test

import (
	"testing"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// The limits and loads are the README's, written here as numbers rather
// than read back from the constants they check.
func TestDocumentedLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		code      uint8
		maxN, n   uint64
		loadOfN   uint64
		cheapMaxN uint64
	}{
		{"fibonacci", 1, 1_000_000, 90, 90, 4000},
		{"primes", 2, 200_000, 1000, 1_000_000, 250},
	} {
		task, ok := tasks.ByName(tc.name)
		if !ok {
			t.Fatalf("%s is not registered", tc.name)
		}
		if task.Code != tc.code || task.MaxN != tc.maxN || task.Load(tc.n) != tc.loadOfN || task.CheapMaxN != tc.cheapMaxN {
			t.Errorf("%s: code %d, MaxN %d, load(%d) %d, CheapMaxN %d; want %d, %d, %d, %d",
				tc.name, task.Code, task.MaxN, tc.n, task.Load(tc.n), task.CheapMaxN, tc.code, tc.maxN, tc.loadOfN, tc.cheapMaxN)
		}
	}
	all := tasks.All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Code >= all[i].Code {
			t.Fatalf("All() not in code order: %d before %d", all[i-1].Code, all[i].Code)
		}
	}
}
