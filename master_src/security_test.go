package master_test

import (
	"crypto/rand"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
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

// A forged master answering a slave's join requests is ignored: the slave
// looks for its master where the forger sits, and the forger answers every
// request at once with ACKs of its own, one sealed under another secret and
// one plain, and one sealed under the real secret but naming no request of
// the slave's (a replay of an old ACK). The slave confirms none of them.
// (The forger cannot relay to a real master: with a secret the master
// answers a request only from the address it claims, TestHostileLAN.)
func TestForgedMasterIgnored(t *testing.T) {
	const secret = "the real secret"
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	evil, judge, real := discovery.NewGuard("not the secret"), discovery.NewGuard(secret), discovery.NewGuard(secret)
	var (
		mu            sync.Mutex
		forgedSent    int
		confirmTokens []uint64
		wg            sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := front.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, _, _ := judge.Open(buf[:n], from.Addr())
			mu.Lock()
			switch msg := msg.(type) {
			case packets.JoinRequest:
				_, _ = front.WriteToUDPAddrPort(evil.Seal(packets.JoinReply{Accepted: true, Token: 666}), from)
				_, _ = front.WriteToUDPAddrPort(packets.Encode(packets.JoinReply{Accepted: true, Token: 667}), from)
				_, _ = front.WriteToUDPAddrPort(real.Seal(packets.JoinReply{Accepted: true, Token: 668, Request: 1, To: from, From: front.LocalAddr().(*net.UDPAddr).AddrPort()}), from)
				forgedSent += 3
			case packets.SlaveJoinConfirm:
				confirmTokens = append(confirmTokens, msg.Token)
			}
			mu.Unlock()
		}
	}()
	defer wg.Wait()
	defer front.Close()

	so := testutil.SlaveOptions(t, front.LocalAddr().String())
	so.Secret = secret
	testutil.StartSlave(t, so)
	testutil.WaitFor(t, 10*time.Second, "the forger to answer a few requests", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return forgedSent >= 9
	})
	mu.Lock()
	defer mu.Unlock()
	if len(confirmTokens) != 0 {
		t.Fatalf("the slave confirmed tokens %v to the forger", confirmTokens)
	}
}

// A flood of random datagrams from one source at the discovery port is cut
// down to that source's rate, and another host joins while it lasts.
func TestDiscoveryFlood(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.HandshakeRate, o.HandshakeBurst = 50, 100 // the defaults: the flood comes from one source
	m, _ := testutil.StartMaster(t, o)
	disco := m.DiscoveryAddr().(*net.UDPAddr).AddrPort()
	base := "http://" + m.HTTPAddr().String()

	flooder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	const most = 1_000_000 // bounds the flood should the join never come
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for i := 0; i < most; i++ {
			select {
			case <-stop:
				return
			default: // the flood goes on until told to stop
			}
			n := 1 + i%len(buf)
			_, _ = rand.Read(buf[:n])
			if i%3 == 0 { // some look like our frames
				buf[0], buf[1] = packets.Version, byte(1+i%int(packets.LastType))
			}
			if _, err := flooder.WriteToUDPAddrPort(buf[:n], disco); err == nil {
				sent.Add(1)
			}
		}
	}()
	testutil.WaitFor(t, 20*time.Second, "the flood to be under way", func() bool {
		n, _ := metric(t, base, `master_handshake_packets_dropped_total{reason="rate_limited"}`)
		return n > 0
	})
	testutil.StartSlave(t, testutil.SlaveOptions(t, disco.String()))
	testutil.WaitFor(t, 20*time.Second, "a slave to join during the flood", func() bool { return m.Slaves() == 1 })
	close(stop)
	<-done
	elapsed := time.Since(start)
	if sent.Load() >= most {
		t.Fatalf("the flood ended (%d datagrams) before the slave joined", most)
	}
	// Everything the flooder got past the limit was dropped as malformed;
	// at most the burst plus the rate over the flood's time got that far.
	passed := metricValue(t, base, `master_handshake_packets_dropped_total{reason="malformed"}`)
	limited := metricValue(t, base, `master_handshake_packets_dropped_total{reason="rate_limited"}`)
	if bound := float64(o.HandshakeBurst) + o.HandshakeRate*elapsed.Seconds() + 1; passed > bound {
		t.Fatalf("%v flood packets got past the limit in %s, at most %v allowed (%v limited)", passed, elapsed, bound, limited)
	}
	t.Logf("flood: %d datagrams sent in %s, %v rate-limited, %v decoded and dropped", sent.Load(), elapsed, limited, passed)
	status, _, body := testutil.Get(t, base+"/fibonacci?n=90", "")
	if status != 200 || body != "2880067194370816120\n" {
		t.Fatalf("after the flood: %d %q", status, body)
	}
}
