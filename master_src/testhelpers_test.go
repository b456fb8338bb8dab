package master

import (
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// newTestMaster binds a master on loopback ports without running it.
func newTestMaster(t *testing.T, o Options) *Master {
	t.Helper()
	o.HTTPAddr, o.DiscoveryAddr = "127.0.0.1:0", "127.0.0.1:0"
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.udp.Close(); _ = m.httpLn.Close() })
	return m
}

// joinForTest takes a slave through the registry's transitions into the
// pool, as runSlave does, without links.
func joinForTest(t *testing.T, m *Master, key nodeKey, metricsPort uint16, first packets.LoadReport) *session {
	t.Helper()
	k, now := peerKey{nodeKey: key}, time.Now()
	reply := m.reg.ack(k, now)
	s := m.reg.confirm(k, reply.Token, key.IP, now)
	if !reply.Accepted || s == nil {
		t.Fatalf("join of %s refused: %s", key, reply.Reason)
	}
	s.m, s.metricsPort, s.joinedAt = m, metricsPort, now
	if !s.enterPool(first) {
		t.Fatalf("%s did not enter the pool", key)
	}
	return s
}
