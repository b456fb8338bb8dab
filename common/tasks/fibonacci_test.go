package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// fibIter returns F(0..n) by plain iteration, the reference for the
// fast-doubling implementation.
func fibIter(n int) []*big.Int {
	fs := []*big.Int{big.NewInt(0), big.NewInt(1)}
	for i := 2; i <= n; i++ {
		fs = append(fs, new(big.Int).Add(fs[i-1], fs[i-2]))
	}
	return fs[:n+1]
}

func TestFibonacciKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{2, "1"},
		{3, "2"},
		{10, "55"},
		{50, "12586269025"},
		{90, "2880067194370816120"},
		{92, "7540113804746346429"},  // largest that fits int64
		{93, "12200160415121876738"}, // largest that fits uint64
		{94, "19740274219868223167"}, // first beyond uint64
		{100, "354224848179261915075"},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			if got := tasks.Fibonacci(tc.n).String(); got != tc.want {
				t.Fatalf("F(%d) = %s, want %s", tc.n, got, tc.want)
			}
		})
	}
}

func TestFibonacci1000(t *testing.T) {
	t.Parallel()
	want := fibIter(1000)[1000].String()
	// Independent facts about F(1000), checked against the iteration first.
	const prefix = "434665576869374564356885276750406258025646605173717804024817290895365554179490518904038798400792551692959225930803226347752096896232398733224711616429964409065331879382989696499285160037044761377951668492288"
	if len(want) != 209 || !strings.HasPrefix(want, prefix) || !strings.HasSuffix(want, "228875") {
		t.Fatalf("reference F(1000) = %s (%d digits) disagrees with the known value", want, len(want))
	}
	if got := tasks.Fibonacci(1000).String(); got != want {
		t.Fatalf("F(1000) = %s, want %s", got, want)
	}
}

func TestFibonacciMatchesIteration(t *testing.T) {
	t.Parallel()
	ref := fibIter(1000)
	for n, want := range ref {
		if got := tasks.Fibonacci(uint64(n)); got.Cmp(want) != 0 {
			t.Fatalf("F(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestFibonacciLargeIdentities checks large n, beyond iteration, with
// F(n+1) = F(n) + F(n-1) and Cassini's identity F(n-1)F(n+1) − F(n)² = (−1)ⁿ.
func TestFibonacciLargeIdentities(t *testing.T) {
	t.Parallel()
	for _, n := range []uint64{1001, 4096, 65535, 100_000, 100_001} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			a, b, c := tasks.Fibonacci(n-1), tasks.Fibonacci(n), tasks.Fibonacci(n+1)
			if s := new(big.Int).Add(a, b); s.Cmp(c) != 0 {
				t.Fatalf("F(%d) + F(%d) != F(%d)", n-1, n, n+1)
			}
			d := new(big.Int).Mul(a, c)
			d.Sub(d, new(big.Int).Mul(b, b))
			want := int64(1)
			if n%2 == 1 {
				want = -1
			}
			if !d.IsInt64() || d.Int64() != want {
				t.Fatalf("Cassini at %d: %s, want %d", n, d, want)
			}
		})
	}
}

// TestFibonacciTaskLargestResultFitsAFrame: the registered task's result for
// MaxN must fit a TaskResult frame.
func TestFibonacciTaskLargestResultFitsAFrame(t *testing.T) {
	t.Parallel()
	task, ok := tasks.ByName("fibonacci")
	if !ok {
		t.Fatal("fibonacci is not registered")
	}
	body, err := task.Run(context.Background(), task.MaxN)
	if err != nil {
		t.Fatal(err)
	}
	if body != tasks.Fibonacci(task.MaxN).String() {
		t.Fatal("Run(MaxN) differs from Fibonacci(MaxN)")
	}
	if task.MaxN == 1_000_000 && len(body) != 208_988 {
		t.Errorf("F(1,000,000) has %d digits, want 208,988", len(body))
	}
	const overhead = 8 + 1 + 4 // TaskResult: id, ok, body length
	if len(body)+overhead > packets.MaxPayload {
		t.Fatalf("F(MaxN) has %d digits: the TaskResult exceeds MaxPayload", len(body))
	}
}

func BenchmarkFibonacci(b *testing.B) {
	for _, n := range []uint64{30, 1000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tasks.Fibonacci(n)
			}
		})
	}
}

// A cancelled fibonacci stops between doubling steps once its numbers are
// 2^14 bits long (F(k) for k ≥ about 23,600, so n ≥ about 47,300); a smaller
// one computes in well under a millisecond,
// never looking at its context, so a cheap task never yields the processor.
func TestFibonacciCancellation(t *testing.T) {
	t.Parallel()
	fib, _ := tasks.ByName("fibonacci")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, n := range []uint64{50_000, 100_000, fib.MaxN} {
		if got, err := fib.Run(ctx, n); !errors.Is(err, context.Canceled) || got != "" {
			t.Errorf("Run(%d) with a cancelled context = %q, %v; want context.Canceled", n, got, err)
		}
	}
	for n, want := range map[uint64]string{0: "0", 1: "1", 90: "2880067194370816120"} {
		if got, err := fib.Run(ctx, n); err != nil || got != want {
			t.Errorf("Run(%d) with a cancelled context = %q, %v; want %s: a cheap task does not stop", n, got, err, want)
		}
	}
}
