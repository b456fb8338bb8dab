package master

import (
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Consecutive failures eject a slave for base × its ejections, never more
// than maxPercent of the pool at once, and a load report past that time
// brings it back.
func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 10, 1000, 1000, 1000, 1000)
	p.outliers = outlierRules{after: 2, base: time.Minute, maxPercent: 50}
	now := time.Now()
	fail := func(mb *member) time.Duration { return p.tryFailed(mb, time.Time{}, now) }

	if d := fail(ms[0]); d != 0 {
		t.Fatalf("ejected after 1 failure of 2")
	}
	p.tryAnswered(ms[0]) // a good result: no longer in a row
	if d := fail(ms[0]); d != 0 {
		t.Fatalf("ejected after a result reset the count")
	}
	if d := fail(ms[0]); d != time.Minute {
		t.Fatalf("second failure in a row: ejected for %s, want 1m", d)
	}
	if _, err := acquireNow(t, p, 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ { // round robin over the others only
		mb, err := acquireNow(t, p, 1)
		if err != nil || mb == ms[0] {
			t.Fatalf("placement %d: %v on %v; the ejected slave took it", i, err, mb)
		}
	}
	fail(ms[1])
	if d := fail(ms[1]); d != time.Minute || p.ejectedCount() != 2 {
		t.Fatalf("second slave: ejected for %s, %d ejected; want 1m and 2", d, p.ejectedCount())
	}
	for i := 0; i < 4; i++ {
		if d := fail(ms[2]); d != 0 {
			t.Fatalf("a third slave of 4 ejected: over the 50%% cap")
		}
	}
	if ms[2].fig.Ejected || p.ejectedCount() != 2 {
		t.Fatalf("ejected count %d, want 2", p.ejectedCount())
	}

	rep := packets.LoadReport{MaxLoad: 1000, Factor: 0.5}
	if p.report(ms[0], rep, now.Add(59*time.Second)) || !ms[0].fig.Ejected {
		t.Fatalf("returned before its ejection time")
	}
	if !p.report(ms[0], rep, now.Add(time.Minute)) || ms[0].fig.Ejected || p.ejectedCount() != 1 {
		t.Fatalf("not back after its ejection time: ejected %v, count %d", ms[0].fig.Ejected, p.ejectedCount())
	}
	// The second ejection lasts twice as long.
	fail(ms[0])
	if d := fail(ms[0]); d != 2*time.Minute {
		t.Fatalf("second ejection for %s, want 2m", d)
	}
	p.remove(ms[0])
	if p.ejectedCount() != 1 {
		t.Fatalf("an ejected slave that left still counts: %d", p.ejectedCount())
	}
}

// A timed-out try of a slave that returned a result since it was sent does
// not count: the slave is busy, not stuck.
func TestOutlierBusySlaveNotCounted(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 10, 1000, 1000)
	p.outliers = outlierRules{after: 1, base: time.Minute, maxPercent: 50}
	sent := time.Now()
	p.observe(ms[0], 1, time.Millisecond, time.Millisecond, 1) // a result after sent
	if d := p.tryFailed(ms[0], sent.Add(-time.Millisecond), time.Now()); d != 0 {
		t.Fatalf("busy slave ejected for %s", d)
	}
	if d := p.tryFailed(ms[1], sent, time.Now()); d != time.Minute {
		t.Fatalf("silent slave: ejected for %s, want 1m", d)
	}
}

// With ejection off (after 0) nothing is ever ejected.
func TestOutlierOff(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 10, 1000, 1000)
	for i := 0; i < 10; i++ {
		if d := p.tryFailed(ms[0], time.Time{}, time.Now()); d != 0 {
			t.Fatal("ejected with ejection off")
		}
	}
}

// A slave at its bound of unfinished tasks takes no more until one ends;
// a slave reporting many workers may hold 4 per worker.
func TestUnfinishedBound(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "first_available", 0, 1000)
	p.maxUnfinished = 2
	p.report(ms[0], packets.LoadReport{MaxLoad: 1000}, time.Now())
	for i := 0; i < 2; i++ {
		if mb := p.tryAcquire(1, 1, nil); mb != ms[0] {
			t.Fatalf("task %d not placed", i)
		}
	}
	if mb := p.tryAcquire(1, 1, nil); mb != nil {
		t.Fatalf("a third task placed on a slave bound to 2")
	}
	if _, err := acquireNow(t, p, 1); err == nil {
		t.Fatalf("acquire placed past the bound")
	}
	p.release(ms[0], 1)
	if mb := p.tryAcquire(1, 1, nil); mb != ms[0] {
		t.Fatalf("no room after a release")
	}
	p.report(ms[0], packets.LoadReport{MaxLoad: 1000, Workers: 1}, time.Now())
	if ms[0].fig.MaxInFlight != 4 {
		t.Fatalf("bound %d with 1 worker and -slave-max-unfinished 2, want 4", ms[0].fig.MaxInFlight)
	}
}
