package tasks

import (
	"context"
	"math/big"
	"math/bits"
)

func init() {
	Register(Task{
		Name: "fibonacci",
		Code: 1,
		// F(1,000,000) has 208,988 digits: it fits a frame and a browser.
		MaxN: 1_000_000,
		Load: func(n uint64) uint64 { return n },
		// F(4000) takes about 10 µs on one core of this project's CI machine.
		CheapMaxN: 4000,
		Run: func(ctx context.Context, n uint64) (string, error) {
			f, err := fibonacci(ctx, n)
			if err != nil {
				return "", err
			}
			// The decimal conversion cannot be interrupted: at MaxN it is
			// about 80 ms of one core, the most a cancel can waste here.
			return f.String(), nil
		},
	})
}

// checkFrom is the length in bits of F(k) from which fibonacci looks at its
// context at each step.
const checkFrom = 1 << 14

// Fibonacci returns F(n) with F(0)=0, F(1)=1.
func Fibonacci(n uint64) *big.Int {
	f, _ := fibonacci(context.Background(), n) // never cancelled: never fails
	return f
}

// fibonacci computes F(n) by fast doubling:
// F(2k) = F(k)·(2F(k+1) − F(k)) and F(2k+1) = F(k)² + F(k+1)².
// It checks ctx between doubling steps once the numbers are long enough for
// a step to be worth it (one step at MaxN is under 10 ms; every step below
// checkFrom bits together, microseconds): a cheap task never yields.
func fibonacci(ctx context.Context, n uint64) (*big.Int, error) {
	a, b := big.NewInt(0), big.NewInt(1) // F(k), F(k+1) with k = 0
	t := new(big.Int)
	cp := newCheckpoints(ctx)
	for bit := bits.Len64(n) - 1; bit >= 0; bit-- {
		if a.BitLen() >= checkFrom {
			if err := cp.check(); err != nil {
				return nil, err
			}
		}
		// k → 2k
		t.Lsh(b, 1).Sub(t, a).Mul(t, a) // F(2k)
		b.Mul(b, b)
		a.Mul(a, a)
		b.Add(b, a) // F(2k+1)
		a.Set(t)
		if n>>uint(bit)&1 == 1 { // 2k → 2k+1
			a.Add(a, b)
			a, b = b, a
		}
	}
	return a, nil
}
