package testutil

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/packets"
)

// A fake slave whose join is acknowledged but whose links never come (its
// confirms lost in a crowd of joins) joins again, as a real slave does; it
// used to wait out its listeners and never be in the pool.
func TestFakeSlaveJoinsAgainWhenLinksNeverCome(t *testing.T) {
	stub, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer stub.Close()
	start := time.Now()
	StartFakeSlave(t, stub.LocalAddr().String(), 1000, FakeRefuse)

	guard := discovery.NewGuard("")
	buf := make([]byte, 2048)
	confirmed := false
	for {
		if err := stub.SetReadDeadline(time.Now().Add(3 * fakeLinkTimeout)); err != nil {
			t.Fatal(err)
		}
		n, from, err := stub.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("waiting for the fake slave (confirmed: %v): %v", confirmed, err)
		}
		msg, _, err := guard.Open(buf[:n], from.Addr())
		if err != nil {
			t.Fatalf("packet from the fake slave: %v", err)
		}
		switch msg.(type) {
		case packets.SlaveJoinConfirm:
			confirmed = true // and never dialled
		case packets.JoinRequest:
			if confirmed {
				if waited := time.Since(start); waited < fakeLinkTimeout {
					t.Errorf("joined again after %v, before its link timeout of %v", waited, fakeLinkTimeout)
				}
				return
			}
			if _, err := stub.WriteToUDPAddrPort(guard.Seal(packets.JoinReply{Accepted: true, Token: 7}), from); err != nil {
				t.Fatal(err)
			}
		}
	}
}
