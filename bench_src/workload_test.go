package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMixedProportions(t *testing.T) {
	t.Parallel()
	w, err := NewWorkload("mixed", nil, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	rng := rand.New(rand.NewPCG(42, 1))
	counts := map[string]int{}
	for range n {
		counts[w.Pick(rng).String()]++
	}
	primes := float64(counts["primes:20000"]) / n
	// 5% of 200,000: the standard deviation is 0.05%, allow 4 of them.
	if math.Abs(primes-0.05) > 0.002 || counts["fibonacci:30"]+counts["primes:20000"] != n {
		t.Fatalf("mix %v: primes share %.4f, want 0.05", counts, primes)
	}
}

func TestPickIsReproducible(t *testing.T) {
	t.Parallel()
	w, err := NewWorkload("mixed", nil, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	seq := func(seed uint64) []Item {
		rng := rand.New(rand.NewPCG(seed, 1))
		var out []Item
		for range 500 {
			out = append(out, w.Pick(rng))
		}
		return out
	}
	if !reflect.DeepEqual(seq(7), seq(7)) {
		t.Fatal("the same seed gave two request sequences")
	}
	if reflect.DeepEqual(seq(7), seq(8)) {
		t.Fatal("two seeds gave the same request sequence")
	}
}

func TestCustomMixProportions(t *testing.T) {
	t.Parallel()
	mix, err := ParseMix("fibonacci:30:3, primes:5000:1,fibonacci:1000")
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkload("uniform", mix, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	counts := map[string]int{}
	const n = 100_000
	for range n {
		counts[w.Pick(rng).String()]++
	}
	for item, want := range map[string]float64{"fibonacci:30": 0.6, "primes:5000": 0.2, "fibonacci:1000": 0.2} {
		if got := float64(counts[item]) / n; math.Abs(got-want) > 0.01 {
			t.Errorf("%s share %.3f, want %.1f", item, got, want)
		}
	}
}

// A task that is not built in is a slave's own: its second field is the
// input, percent-decoded, sent as ?input= and shown encoded again.
func TestMixUserTask(t *testing.T) {
	t.Parallel()
	mix, err := ParseMix("sha:hello%2C%20w%3Ard+1:3,primes:5000")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{Task: "sha", Input: "hello, w:rd+1", Weight: 3}, {Task: "primes", N: 5000, Weight: 1}}
	if !slices.Equal(mix, want) {
		t.Fatalf("ParseMix = %+v, want %+v", mix, want)
	}
	if got := mix[0].Path(); got != "/sha?input=hello%2C+w%3Ard%2B1" {
		t.Errorf("Path %q", got)
	}
	if got := mix[0].String(); got != "sha:hello%2C w%3Ard+1" {
		t.Errorf("String %q", got)
	}
	w, err := NewWorkload("uniform", mix, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	answers, err := w.Answers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := answers[mix[0].answerKey()]; ok || len(answers) != 1 {
		t.Errorf("answers %v: want primes' only (a slave's own task's answer is not known here)", answers)
	}
}

func TestWorkloadErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mix     string
		burst   Burst
		wantErr string
	}{
		{"nope", "", Burst{}, "unknown workload"},
		{"bursty", "", Burst{On: 0, Off: time.Second}, "positive burst"},
		{"uniform", "Squares:3", Burst{}, "a name is [a-z]"},
		{"uniform", "primes:300000", Burst{}, "beyond the master's limit"},
	} {
		mix, err := ParseMix(tc.mix)
		if err == nil {
			_, err = NewWorkload(tc.name, mix, tc.burst)
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s %q: error %v, want %q", tc.name, tc.mix, err, tc.wantErr)
		}
	}
	for _, bad := range []string{"fibonacci", "fibonacci:x", "fibonacci:30:0", "fibonacci:30:-1", "a:1:2:3", "sha:100%zz"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestBurstActive(t *testing.T) {
	t.Parallel()
	w, err := NewWorkload("bursty", nil, Burst{On: time.Second, Off: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		on   bool
		wait time.Duration
	}{
		{0, true, 0},
		{999 * time.Millisecond, true, 0},
		{time.Second, false, 2 * time.Second},
		{2500 * time.Millisecond, false, 500 * time.Millisecond},
		{3 * time.Second, true, 0},
	} {
		if on, wait := w.Active(tc.at); on != tc.on || wait != tc.wait {
			t.Errorf("Active(%s) = %v, %s; want %v, %s", tc.at, on, wait, tc.on, tc.wait)
		}
	}
	u, _ := NewWorkload("uniform", nil, Burst{})
	if on, _ := u.Active(5 * time.Second); !on {
		t.Error("a workload without bursts paused")
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	w, err := NewWorkload("mixed", nil, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.Answers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a[Item{Task: "fibonacci", N: 30}] != "832040" || a[Item{Task: "primes", N: 20000}] != "2262" {
		t.Fatalf("answers %v", a)
	}
}

func TestArrivalsArePoisson(t *testing.T) {
	t.Parallel()
	const rate, n = 200.0, 100_000
	a := newArrivals(rand.New(rand.NewPCG(3, 2)), rate, nil)
	var prev time.Duration
	var sum, sumSq float64
	for range n {
		at := a.next()
		gap := (at - prev).Seconds()
		if gap < 0 {
			t.Fatalf("arrivals went back in time: %s after %s", at, prev)
		}
		sum += gap
		sumSq += gap * gap
		prev = at
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	// Exponential gaps: mean 1/rate, and standard deviation equal to the
	// mean (coefficient of variation 1). The mean's standard error is
	// 1/rate/sqrt(n), 0.3%: allow 1.5%.
	if math.Abs(mean*rate-1) > 0.015 {
		t.Errorf("mean gap %.6fs, want %.6fs", mean, 1/rate)
	}
	if math.Abs(sd/mean-1) > 0.03 {
		t.Errorf("coefficient of variation %.3f, want 1", sd/mean)
	}
}

func TestArrivalsInBursts(t *testing.T) {
	t.Parallel()
	burst := &Burst{On: 200 * time.Millisecond, Off: 800 * time.Millisecond}
	const rate = 100.0
	a := newArrivals(rand.New(rand.NewPCG(4, 2)), rate, burst)
	count := 0
	var last time.Duration
	for {
		at := a.next()
		if at >= 100*time.Second {
			break
		}
		if at < last {
			t.Fatalf("arrivals went back in time: %s after %s", at, last)
		}
		last = at
		if at%time.Second >= burst.On {
			t.Fatalf("an arrival fell in a pause: %s", at)
		}
		count++
	}
	// 100 s at an average of 100/s: 10,000 ± 100 (Poisson).
	if count < 9600 || count > 10400 {
		t.Errorf("%d arrivals in 100 s, want about 10000", count)
	}
}
