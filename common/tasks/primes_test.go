package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// sievePi returns π(k) for every k ≤ n with a sieve of Eratosthenes.
func sievePi(n int) []int {
	composite := make([]bool, n+1)
	pi := make([]int, n+1)
	count := 0
	for i := 2; i <= n; i++ {
		if !composite[i] {
			count++
			for j := i * i; j <= n; j += i {
				composite[j] = true
			}
		}
		pi[i] = count
	}
	return pi
}

func countPrimes(t testing.TB, n uint64) int {
	t.Helper()
	s, err := tasks.CountPrimes(context.Background(), n)
	if err != nil {
		t.Fatalf("CountPrimes(%d): %v", n, err)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("CountPrimes(%d) = %q, not decimal", n, s)
	}
	return v
}

func TestCountPrimesKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0"},
		{1, "0"},
		{2, "1"},
		{3, "2"},
		{4, "2"},
		{10, "4"},
		{100, "25"},
		{1000, "168"},
		{64, "18"}, // the first cancellation check point
		{1024, "172"},
		{10000, "1229"},
		{20000, "2262"},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			got, err := tasks.CountPrimes(context.Background(), tc.n)
			if err != nil || got != tc.want {
				t.Fatalf("CountPrimes(%d) = %q, %v; want %q", tc.n, got, err, tc.want)
			}
		})
	}
}

func TestCountPrimesMatchesSieve(t *testing.T) {
	t.Parallel()
	const limit = 20000
	pi := sievePi(limit)
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	for n := 301; n < limit; n += 1999 { // odd steps hit primes and composites
		ns = append(ns, n, n+1)
	}
	ns = append(ns, 1023, 1024, 1025, 2047, 2048, 19997, limit)
	for _, n := range ns {
		if got := countPrimes(t, uint64(n)); got != pi[n] {
			t.Errorf("CountPrimes(%d) = %d, sieve says %d", n, got, pi[n])
		}
	}
}

func TestCountPrimesCancellation(t *testing.T) {
	t.Parallel()
	primes, ok := tasks.ByName("primes")
	if !ok {
		t.Fatal("primes is not registered")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	t.Cleanup(cancel2) // not defer: the parallel subtests run after this function returns
	for _, tc := range []struct {
		name string
		ctx  context.Context
		run  func(context.Context, uint64) (string, error)
		want error
	}{
		{"cancelled CountPrimes", cancelled, tasks.CountPrimes, context.Canceled},
		{"cancelled Task.Run", cancelled, primes.Run, context.Canceled},
		{"deadline during the run", expired, tasks.CountPrimes, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			got, err := tc.run(tc.ctx, primes.MaxN)
			// The full run takes seconds; a prompt stop takes milliseconds.
			if elapsed := time.Since(start); elapsed > 500*time.Millisecond+timeoutOf(tc.ctx) {
				t.Errorf("returned after %v", elapsed)
			}
			if !errors.Is(err, tc.want) || err != tc.ctx.Err() {
				t.Fatalf("CountPrimes(MaxN) = %q, %v; want ctx.Err() = %v", got, err, tc.want)
			}
			if got != "" {
				t.Errorf("a cancelled count returned %q", got)
			}
		})
	}
}

func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), 0) + 20*time.Millisecond
	}
	return 0
}

// TestCountPrimesSmallWithCancelledContext: the context is checked every
// 64 numbers, so a count below 64 runs to its (correct) end even when
// cancelled, and one that reaches 64 stops there.
func TestCountPrimesSmallWithCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		n    uint64
		want string
		err  error
	}{
		{10, "4", nil},
		{63, "18", nil},
		{64, "", context.Canceled},
	} {
		got, err := tasks.CountPrimes(ctx, tc.n)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("CountPrimes(%d) with a cancelled context = %q, %v; want %q, %v", tc.n, got, err, tc.want, tc.err)
		}
	}
}

func BenchmarkCountPrimes(b *testing.B) {
	for _, n := range []uint64{5000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := tasks.CountPrimes(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
