package discovery_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

func linkListener(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dialAndSend(t *testing.T, ln *net.TCPListener, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(b) > 0 {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

var linkMaster = discovery.Master{Addr: netip.MustParseAddrPort("127.0.0.1:3000"), Token: 77}

// Strangers that connect first, silent or talking garbage, do not hold up
// the master's link.
func TestAcceptLinkPassesOverStrangers(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	header := func(n uint32) []byte {
		return []byte{packets.Version, byte(packets.TypeLinkHello), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	dialAndSend(t, ln, nil)                                                                  // silent
	dialAndSend(t, ln, []byte("GET / HTTP/1.1\r\n\r\n"))                                     // another protocol
	dialAndSend(t, ln, header(packets.MaxPayload+1))                                         // oversized length
	dialAndSend(t, ln, header(1000))                                                         // a length it never fills
	dialAndSend(t, ln, packets.Encode(packets.LinkHello{Token: 1, Link: packets.LinkTask}))  // wrong token
	dialAndSend(t, ln, packets.Encode(packets.LinkHello{Token: 77, Link: packets.LinkLoad})) // wrong link
	want := dialAndSend(t, ln, packets.Encode(packets.LinkHello{Token: 77, Link: packets.LinkTask, PollIntervalMillis: 250}))

	start := time.Now()
	c, hello, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, time.Now().Add(10*time.Second), logger.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hello.PollIntervalMillis != 250 || c.RemoteAddr().String() != want.LocalAddr().String() {
		t.Fatalf("accepted %s with %+v, want the master's connection from %s", c.RemoteAddr(), hello, want.LocalAddr())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s: the strangers held up the master", d)
	}
}

func TestAcceptLinkEnds(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	dialAndSend(t, ln, nil)
	start := time.Now()
	if _, _, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, time.Now().Add(200*time.Millisecond), logger.Discard()); err == nil {
		t.Fatal("no master came, yet AcceptLink succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, _, err := discovery.AcceptLink(ctx, ln, packets.LinkTask, linkMaster, time.Now().Add(time.Minute), logger.Discard()); err == nil {
		t.Fatal("cancelled, yet AcceptLink succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s to give up", d)
	}
}

// dialFrom connects to ln from a given loopback address and sends b.
func dialFrom(t *testing.T, ln *net.TCPListener, from string, b []byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return c
}

// A right hello is not enough: it must come from the master's IP and be for
// the link asked for. Alone, such a connection is never accepted.
func TestAcceptLinkChecksSourceAndKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from string
		hello      packets.LinkHello
	}{
		{"another host with the token", "127.0.0.2", packets.LinkHello{Token: 77, Link: packets.LinkTask}},
		{"the master's IP, the wrong link", "127.0.0.1", packets.LinkHello{Token: 77, Link: packets.LinkResult}},
		{"the master's IP, the wrong token", "127.0.0.1", packets.LinkHello{Token: 78, Link: packets.LinkTask}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln := linkListener(t)
			c := dialFrom(t, ln, tc.from, packets.Encode(tc.hello))
			got, hello, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, time.Now().Add(300*time.Millisecond), logger.Discard())
			if err == nil {
				got.Close()
				t.Fatalf("accepted %s with %+v", c.LocalAddr(), hello)
			}
		})
	}
}

// The accepted link keeps no deadline: the hello's must not cut it later.
func TestAcceptLinkClearsTheDeadline(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	peer := dialFrom(t, ln, "127.0.0.1", packets.Encode(packets.LinkHello{Token: 77, Link: packets.LinkTask}))
	deadline := time.Now().Add(200 * time.Millisecond)
	c, _, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, deadline, logger.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(time.Until(deadline) + 50*time.Millisecond)
	if _, err := peer.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Fatalf("reading the link after the hello's deadline: %v", err)
	}
}

// A stranger that connects and says nothing is cut off at the hello's
// deadline: it cannot hold a connection (and a reader) open for ever.
func TestAcceptLinkCutsOffSilentStrangers(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	stranger := dialAndSend(t, ln, nil)
	if _, _, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, time.Now().Add(200*time.Millisecond), logger.Discard()); err == nil {
		t.Fatal("no master came, yet AcceptLink succeeded")
	}
	_ = stranger.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := stranger.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the silent stranger's connection: %v, want it closed by the listener", err)
	}
}

// While AcceptLink still waits for the master, a silent stranger is cut
// off at HelloTimeout, not when AcceptLink ends: else a few silent
// connections per source would hold that source's share for the whole
// join.
func TestAcceptLinkCutsOffSilentStrangersWhileWaiting(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		_, _, err := discovery.AcceptLink(ctx, ln, packets.LinkTask, linkMaster, time.Now().Add(time.Minute), logger.Discard())
		ended <- err
	}()
	stranger := dialAndSend(t, ln, nil)
	_ = stranger.SetReadDeadline(time.Now().Add(10 * discovery.HelloTimeout))
	_, err := stranger.Read(make([]byte, 1))
	select {
	case err := <-ended:
		t.Fatalf("AcceptLink ended (%v) with a minute to go", err)
	default:
	}
	cancel()
	if <-ended == nil {
		t.Fatal("cancelled, yet AcceptLink succeeded")
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("the silent stranger's connection, AcceptLink still waiting: %v, want it closed at HelloTimeout", err)
	}
}

// Row 2 of issue 13: a stranger holding 20 idle connections on a link port
// (more than the old global cap of 16 waiting for a hello) does not keep
// the master's connection out; each of its connections is dropped within
// HelloTimeout.
func TestAcceptLinkAdmitsMasterPastStrangers(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 20 {
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	want := dialAndSend(t, ln, packets.Encode(packets.LinkHello{Token: 77, Link: packets.LinkTask}))
	start := time.Now()
	c, _, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, linkMaster, time.Now().Add(5*time.Second), logger.Discard())
	if err != nil {
		t.Fatalf("the master's connection was not admitted past 20 idle strangers: %v", err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != want.LocalAddr().String() {
		t.Fatalf("accepted %s, want the master's %s", c.RemoteAddr(), want.LocalAddr())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

// With a secret the hello must come inside the join's encryption: a plain
// hello with the right token (a stranger who read it off the wire) is
// refused, the encrypted one accepted.
func TestAcceptLinkEncrypted(t *testing.T) {
	t.Parallel()
	ln := linkListener(t)
	m := linkMaster
	m.Link = discovery.NewGuard("k").LinkSession(1, 2)
	hello := packets.Encode(packets.LinkHello{Token: 77, Link: packets.LinkTask, PollIntervalMillis: 100})
	dialAndSend(t, ln, hello) // in clear
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := m.Link.Master(c, packets.LinkTask).Write(hello); err != nil {
		t.Fatal(err)
	}
	got, h, err := discovery.AcceptLink(context.Background(), ln, packets.LinkTask, m, time.Now().Add(5*time.Second), logger.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.RemoteAddr().String() != c.LocalAddr().String() || h.PollIntervalMillis != 100 {
		t.Fatalf("accepted %s (%+v), want the encrypted hello from %s", got.RemoteAddr(), h, c.LocalAddr())
	}
}
