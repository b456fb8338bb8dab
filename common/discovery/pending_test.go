package discovery

import (
	"net/netip"
	"testing"
)

// The bounds on connections awaiting their hello: each stranger's IP its
// own few, all strangers together a total, the master's IP a share no
// stranger touches; what is done is forgotten, so the map stays as small
// as what is pending.
func TestPendingHellosBounds(t *testing.T) {
	master := netip.MustParseAddr("127.0.0.1")
	p := newPendingHellos(master)
	stranger := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	sources := maxPendingStrangers / maxPendingPerSource
	for i := range sources {
		for n := range maxPendingPerSource {
			if !p.add(stranger(i)) {
				t.Fatalf("stranger %d's connection %d refused under both bounds", i, n+1)
			}
		}
	}
	if p.add(stranger(0)) {
		t.Fatal("a stranger's connection past its own bound was taken")
	}
	if p.add(stranger(sources)) {
		t.Fatalf("a new stranger's connection taken with %d strangers' pending", maxPendingStrangers)
	}
	for n := range maxPendingMaster {
		if !p.add(master) {
			t.Fatalf("the master's connection %d refused: the strangers took its share", n+1)
		}
	}
	if p.add(master) {
		t.Fatal("the master's connection past its own bound was taken")
	}
	p.done(stranger(1))
	if !p.add(stranger(sources)) {
		t.Fatal("a stranger's connection refused after another's was done")
	}
	p.done(stranger(sources))
	for i := range sources {
		left := maxPendingPerSource
		if i == 1 {
			left-- // done above
		}
		for range left {
			p.done(stranger(i))
		}
	}
	for range maxPendingMaster {
		p.done(master)
	}
	if len(p.bySource) != 0 || p.strangers != 0 {
		t.Fatalf("all done, yet %d sources and %d strangers counted: %v", len(p.bySource), p.strangers, p.bySource)
	}
}
