package tasks

import (
	"context"
	"strconv"
)

func init() {
	Register(Task{
		Name: "primes",
		Code: 2,
		// Naive counting is quadratic: n=100,000 takes about 0.8 s on one
		// core of a 2026 laptop, n=200,000 about 3 s.
		MaxN: 200_000,
		Load: func(n uint64) uint64 { return n * n },
		// n=250 takes about 10 µs on one core of this project's CI machine.
		CheapMaxN: 250,
		Run:       CountPrimes,
	})
}

// CountPrimes returns how many primes are ≤ n, as decimal text. It is naive
// on purpose (trial division by every smaller number) so that it is the
// heavy task. It checks ctx every checkEvery candidates: near MaxN, 1024
// candidates took 50 ms of one core, 64 take about 3 ms.
func CountPrimes(ctx context.Context, n uint64) (string, error) {
	count := 0
	cp := newCheckpoints(ctx)
	// MaxN fits 32 bits, and 32-bit division is the faster instruction.
	for i := uint32(2); uint64(i) <= n; i++ {
		if i%checkEvery == 0 {
			if err := cp.check(); err != nil {
				return "", err
			}
		}
		if isPrimeNaive(i) {
			count++
		}
	}
	return strconv.Itoa(count), nil
}

// checkEvery is how many candidates CountPrimes tests between two looks at
// its context: a cancel stops it within a few milliseconds of work.
const checkEvery = 64

func isPrimeNaive(i uint32) bool {
	for j := uint32(2); j < i; j++ {
		if i%j == 0 {
			return false
		}
	}
	return true
}
