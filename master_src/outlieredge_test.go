package master

import (
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// A failed try counts whatever results the slave returned before: only a
// try that timed out is excused by a result since it was sent (busy, not
// stuck). A slave back from ejection warms up again from the moment it
// returns.
func TestOutlierFailuresAfterAResultAndReturnWarmsUp(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 10, 1000, 1000)
	p.outliers = outlierRules{after: 2, base: time.Minute, maxPercent: 50}
	mb := ms[0]
	p.observe(mb, 1, time.Millisecond, time.Millisecond, 1) // a result: lastResult is now
	later := time.Now().Add(time.Second)
	p.tryFailed(mb, time.Time{}, later)
	if d := p.tryFailed(mb, time.Time{}, later); d != time.Minute {
		t.Fatalf("two failures in a row after a result: ejected for %s, want 1m", d)
	}
	back := later.Add(time.Minute)
	if !p.report(mb, packets.LoadReport{MaxLoad: 1000, Factor: 0.5}, back) {
		t.Fatal("a report past the ejection did not bring the slave back")
	}
	if !mb.fig.WarmSince.Equal(back) {
		t.Fatalf("back from ejection warming since %v, want %v (its return)", mb.fig.WarmSince, back)
	}
}

// The per-try timeout never exceeds the task's own timeout, even when the
// floor does.
func TestTryTimeoutFloorAboveTheCeiling(t *testing.T) {
	t.Parallel()
	tt := newTryTimeouts(2 * time.Second)
	tt.observe(1, time.Microsecond, 1)
	if got := tt.timeout(1, 1, time.Second); got != time.Second {
		t.Fatalf("timeout with a 2s floor and a 1s task timeout: %s, want 1s", got)
	}
}
