package tasks_test

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/tasks"
)

func TestRegistryConsistent(t *testing.T) {
	t.Parallel()
	all := tasks.All()
	if len(all) < 2 {
		t.Fatalf("All() has %d tasks, want at least fibonacci and primes", len(all))
	}
	names := map[string]bool{}
	codes := map[uint8]bool{}
	for i, task := range all {
		if i > 0 && all[i-1].Code >= task.Code {
			t.Errorf("All() not strictly ordered by code: %d then %d", all[i-1].Code, task.Code)
		}
		if task.Name == "" || strings.ContainsAny(task.Name, "/?&= ") {
			t.Errorf("task code %d has name %q, unusable as a URL path", task.Code, task.Name)
		}
		if names[task.Name] || codes[task.Code] {
			t.Errorf("duplicate task %q code %d", task.Name, task.Code)
		}
		names[task.Name], codes[task.Code] = true, true
		if task.Load == nil || task.Run == nil {
			t.Fatalf("task %q lacks Load or Run", task.Name)
		}
		if got, ok := tasks.ByName(task.Name); !ok || got.Code != task.Code || got.MaxN != task.MaxN {
			t.Errorf("ByName(%q) = %+v, %v", task.Name, got.Code, ok)
		}
		if got, ok := tasks.ByCode(task.Code); !ok || got.Name != task.Name || got.MaxN != task.MaxN {
			t.Errorf("ByCode(%d) = %q, %v", task.Code, got.Name, ok)
		}
	}
	for _, name := range []string{"fibonacci", "primes"} {
		if !names[name] {
			t.Errorf("%s is not registered", name)
		}
	}
	if _, ok := tasks.ByName("no-such-task"); ok {
		t.Error("ByName found a task that does not exist")
	}
	if _, ok := tasks.ByName(""); ok {
		t.Error("ByName found a task with an empty name")
	}
	unused := -1
	for c := 0; c <= math.MaxUint8; c++ {
		if !codes[uint8(c)] {
			unused = c
			break
		}
	}
	if _, ok := tasks.ByCode(uint8(unused)); ok {
		t.Errorf("ByCode(%d) found a task that All() does not list", unused)
	}
	// All returns a fresh slice each time.
	all[0].Name = "mutated"
	if tasks.All()[0].Name == "mutated" {
		t.Error("All() exposes the registry's storage")
	}
}

func TestTaskCodesAndNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code uint8
	}{
		{"fibonacci", 1},
		{"primes", 2},
	} {
		task, ok := tasks.ByName(tc.name)
		if !ok || task.Code != tc.code {
			t.Errorf("%s: code %d (registered %v), want %d: wire codes never change", tc.name, task.Code, ok, tc.code)
		}
	}
}

// TestLoadMonotonicNoOverflow samples Load over [0, MaxN]: it must never
// decrease (an overflow would wrap it around) and Load(MaxN) must be exact.
func TestLoadMonotonicNoOverflow(t *testing.T) {
	t.Parallel()
	for _, task := range tasks.All() {
		t.Run(task.Name, func(t *testing.T) {
			t.Parallel()
			var ns []uint64
			for n := uint64(0); n <= 1000 && n <= task.MaxN; n++ {
				ns = append(ns, n)
			}
			for n := uint64(1000); n < task.MaxN; n += max(task.MaxN/997, 1) {
				ns = append(ns, n)
			}
			ns = append(ns, task.MaxN-1, task.MaxN)
			prev := uint64(0)
			for i, n := range ns {
				l := task.Load(n)
				if i > 0 && l < prev {
					t.Fatalf("Load(%d) = %d < Load(%d) = %d: not monotonic (overflow?)", n, l, ns[i-1], prev)
				}
				prev = l
			}
			if task.Load(task.MaxN) == 0 {
				t.Errorf("Load(MaxN) = 0")
			}
		})
	}
	// The known formulas, computed without overflow.
	fib, _ := tasks.ByName("fibonacci")
	if got := fib.Load(fib.MaxN); got != fib.MaxN {
		t.Errorf("fibonacci Load(MaxN) = %d, want %d", got, fib.MaxN)
	}
	primes, _ := tasks.ByName("primes")
	hi, lo := bits.Mul64(primes.MaxN, primes.MaxN)
	if hi != 0 || primes.Load(primes.MaxN) != lo {
		t.Errorf("primes Load(MaxN) = %d, want MaxN² = %d (hi %d)", primes.Load(primes.MaxN), lo, hi)
	}
}

// TestPrimesMaxNFits32Bits: CountPrimes counts with a uint32, so an n of 2³²−1
// or more would never end. MaxN keeps inputs well below.
func TestPrimesMaxNFits32Bits(t *testing.T) {
	t.Parallel()
	primes, ok := tasks.ByName("primes")
	if !ok {
		t.Fatal("primes is not registered")
	}
	if primes.MaxN >= math.MaxUint32 {
		t.Fatalf("primes MaxN = %d, must be < 2^32-1", primes.MaxN)
	}
}

func TestRunMatchesFunctions(t *testing.T) {
	t.Parallel()
	fib, _ := tasks.ByName("fibonacci")
	primes, _ := tasks.ByName("primes")
	for _, tc := range []struct {
		task tasks.Task
		n    uint64
		want string
	}{
		{fib, 0, "0"},
		{fib, 93, "12200160415121876738"},
		{primes, 0, "0"},
		{primes, 1000, "168"},
	} {
		got, err := tc.task.Run(context.Background(), tc.n)
		if err != nil || got != tc.want {
			t.Errorf("%s.Run(%d) = %q, %v; want %q", tc.task.Name, tc.n, got, err, tc.want)
		}
	}
}

// TestRegisterPanicsOnDuplicates registers copies of existing tasks: Register
// panics before inserting, so the registry is left as it was.
func TestRegisterPanicsOnDuplicates(t *testing.T) {
	t.Parallel()
	fib, ok := tasks.ByName("fibonacci")
	if !ok {
		t.Fatal("fibonacci is not registered")
	}
	sameCode := fib
	sameCode.Name = "fibonacci-duplicate-code"
	before := len(tasks.All())
	for _, tc := range []struct {
		name string
		task tasks.Task
		want string
	}{
		{"duplicate name", fib, fmt.Sprintf("duplicate task name %q", fib.Name)},
		{"duplicate code", sameCode, fmt.Sprintf("duplicate task code %d", fib.Code)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("Register did not panic")
				}
				if s := fmt.Sprint(r); !strings.Contains(s, tc.want) {
					t.Errorf("panic %q, want it to mention %q", s, tc.want)
				}
			}()
			tasks.Register(tc.task)
		})
	}
	if _, ok := tasks.ByName(sameCode.Name); ok {
		t.Error("the duplicate-code task was registered")
	}
	if got, ok := tasks.ByCode(fib.Code); !ok || got.Name != fib.Name {
		t.Errorf("ByCode(%d) = %q after the failed Register", fib.Code, got.Name)
	}
	if after := len(tasks.All()); after != before {
		t.Errorf("registry grew from %d to %d tasks", before, after)
	}
}
