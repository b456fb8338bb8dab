package master

import (
	"net/netip"
	"testing"
	"time"
)

func TestSourceLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newSourceLimiter(10, 5)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	allowed := 0
	for i := 0; i < 100; i++ {
		if l.allow(a, now) {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("a burst of 100 from one source: %d allowed, want the burst of 5", allowed)
	}
	if !l.allow(b, now) {
		t.Fatal("another source was limited by the first one's flood")
	}
	if !l.allow(a, now.Add(200*time.Millisecond)) {
		t.Fatal("the source was not refilled at 10/s after 200 ms")
	}
}

func TestSourceLimiterBoundsMemory(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newSourceLimiter(10, 5)
	for i := 0; i < maxSources; i++ {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	// A full table of busy strangers (the 4,300 junk sources) must
	// not lock a newcomer out: one of them is forgotten instead.
	newcomer := netip.MustParseAddr("192.0.2.1")
	if !l.allow(newcomer, now) {
		t.Fatal("a new source was refused because the table is full")
	}
	if len(l.sources) > maxSources {
		t.Fatalf("%d sources tracked, bound %d", len(l.sources), maxSources)
	}
	if !l.allow(netip.MustParseAddr("192.0.2.2"), now.Add(2*sourceIdleExpiry)) || len(l.sources) > maxSources {
		t.Fatal("idle sources were not forgotten to make room")
	}
}

// Past the table's bound the idle sources are forgotten first: a source
// still sending keeps its limiter, so a flooding host that also fills the
// table with strangers does not get its burst back.
func TestSourceLimiterForgetsIdleFirst(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_800_000_000, 0)
	l := newSourceLimiter(1, 5)
	flooder := netip.MustParseAddr("192.0.2.9")
	for range 5 {
		l.allow(flooder, start)
	}
	for i := 1; i < maxSources; i++ {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), start)
	}
	later := start.Add(sourceIdleExpiry + time.Second)
	l.allow(flooder, later) // refilled a little, and seen again: not idle
	l.allow(netip.MustParseAddr("192.0.2.1"), later)
	if n := len(l.sources); n != 2 {
		t.Fatalf("%d sources remembered after the idle ones expired, want the flooder and the newcomer", n)
	}
	if _, ok := l.sources[flooder]; !ok {
		t.Fatal("the source seen a moment ago was forgotten as idle")
	}
}
