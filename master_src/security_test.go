package master_test

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/testutil"
)

// With a shared secret, slaves that have it join; a slave without it, or
// with another, never does, and the one without is told why.
func TestSecretGatesJoins(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Secret = "correct horse battery staple"
	m, _ := testutil.StartMaster(t, o)
	disco := m.DiscoveryAddr().String()

	so := testutil.SlaveOptions(t, disco)
	so.Secret = o.Secret
	testutil.StartSlave(t, so)
	testutil.WaitFor(t, 10*time.Second, "the slave with the secret", func() bool { return m.Slaves() == 1 })

	wrong := testutil.SlaveOptions(t, disco)
	wrong.Secret = "guess"
	testutil.StartSlave(t, wrong)

	// A node without the secret gets a plain NAK that says why.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort(packets.Encode(packets.JoinRequest{}), netip.MustParseAddrPort(disco)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := packets.Decode(buf[:n])
	if r, ok := reply.(packets.JoinReply); err != nil || !ok || r.Accepted || !strings.Contains(r.Reason, "secret") {
		t.Fatalf("answer to a join without the secret: %#v, %v; want a NAK about the secret", reply, err)
	}

	base := "http://" + m.HTTPAddr().String()
	testutil.WaitFor(t, 10*time.Second, "the wrong-secret slave's tries to be refused", func() bool {
		_, _, body, err := testutil.Fetch(base+"/metrics", "")
		return err == nil && strings.Contains(body, `master_handshake_packets_dropped_total{reason="bad_mac"} `) &&
			!strings.Contains(body, `master_handshake_packets_dropped_total{reason="bad_mac"} 1`+"\n")
	})
	if n := m.Slaves(); n != 1 {
		t.Fatalf("%d slaves in the pool; the one with the wrong secret must not join", n)
	}
}

// A forged master (another secret) answering a slave's broadcast is
// ignored: the slave keeps looking and joins the real one.
func TestForgedMasterIgnored(t *testing.T) {
	forger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	evil := discovery.NewGuard("not the secret")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // answer every request with an ACK sealed under the wrong secret, and a plain one
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			_, from, err := forger.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = forger.WriteToUDPAddrPort(evil.Seal(packets.JoinReply{Accepted: true, Token: 666}), from)
			_, _ = forger.WriteToUDPAddrPort(packets.Encode(packets.JoinReply{Accepted: true, Token: 667}), from)
		}
	}()
	defer wg.Wait()
	defer forger.Close()

	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cfg := discovery.Config{
		Target: forger.LocalAddr().(*net.UDPAddr).AddrPort(), FirstWait: 20 * time.Millisecond, MaxWait: 50 * time.Millisecond,
		Guard: discovery.NewGuard("the real secret"), Log: logger.Discard(),
	}
	if got, err := discovery.Join(ctx, udp, cfg, false, func(uint64) packets.Message { return packets.JoinRequest{} }); err == nil {
		t.Fatalf("joined the forger %+v", got)
	}
}

// A flood of random datagrams at the discovery port leaves the master
// serving, and another host still joins meanwhile.
func TestDiscoveryFlood(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.HandshakeRate, o.HandshakeBurst = 50, 100 // the defaults: the flood comes from one source
	m, _ := testutil.StartMaster(t, o)
	disco := m.DiscoveryAddr().(*net.UDPAddr).AddrPort()

	flooder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	done := make(chan int)
	go func() {
		buf := make([]byte, 512)
		sent := 0
		for i := 0; i < 100_000; i++ {
			n := 1 + i%len(buf)
			_, _ = rand.Read(buf[:n])
			if i%3 == 0 { // some look like our frames
				buf[0], buf[1] = packets.Version, byte(1+i%int(packets.LastType))
			}
			if _, err := flooder.WriteToUDPAddrPort(buf[:n], disco); err == nil {
				sent++
			}
		}
		done <- sent
	}()
	testutil.StartSlave(t, testutil.SlaveOptions(t, disco.String()))
	testutil.WaitFor(t, 20*time.Second, "a slave to join during the flood", func() bool { return m.Slaves() == 1 })
	t.Logf("flood: %d datagrams sent", <-done)
	status, _, body := testutil.Get(t, "http://"+m.HTTPAddr().String()+"/fibonacci?n=90", "")
	if status != 200 || body != "2880067194370816120\n" {
		t.Fatalf("after the flood: %d %q", status, body)
	}
}
