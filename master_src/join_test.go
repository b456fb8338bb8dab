package master_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/apijson"
)

// handNode plays the joining side of the handshake packet by packet, through
// the packets package only, so each of the master's answers can be checked.
type handNode struct {
	t     *testing.T
	udp   *net.UDPConn
	disco netip.AddrPort
	buf   []byte
}

func newHandNode(t *testing.T, disco net.Addr) *handNode {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	return &handNode{t: t, udp: udp, disco: disco.(*net.UDPAddr).AddrPort(), buf: make([]byte, 2048)}
}

func (h *handNode) send(m packets.Message) {
	h.t.Helper()
	if _, err := h.udp.WriteToUDPAddrPort(packets.Encode(m), h.disco); err != nil {
		h.t.Fatal(err)
	}
}

// request sends a join request and returns the master's reply.
func (h *handNode) request(monitor bool) packets.JoinReply {
	h.t.Helper()
	h.send(packets.JoinRequest{Monitor: monitor})
	_ = h.udp.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := h.udp.Read(h.buf)
		if err != nil {
			h.t.Fatalf("no answer to a join request: %v", err)
		}
		m, err := packets.Decode(h.buf[:n])
		if reply, ok := m.(packets.JoinReply); err == nil && ok && reply.Monitor == monitor {
			return reply
		}
	}
}

func (h *handNode) wantRefusal(monitor bool, reason string) {
	h.t.Helper()
	if r := h.request(monitor); r.Accepted || r.Reason != reason {
		h.t.Fatalf("join answered %+v, want a refusal %q", r, reason)
	}
}

func (h *handNode) wantAccept(monitor bool) uint64 {
	h.t.Helper()
	r := h.request(monitor)
	if !r.Accepted || r.Token == 0 {
		h.t.Fatalf("join answered %+v, want an ACK with a token", r)
	}
	return r.Token
}

// links are the three listeners of a hand-played slave.
type links [3]*net.TCPListener

func listenLinks(t *testing.T) links {
	t.Helper()
	var l links
	for i := range l {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		l[i] = ln
	}
	return l
}

func (l links) confirm(token uint64, ip netip.Addr) packets.SlaveJoinConfirm {
	p := func(i int) uint16 { return uint16(l[i].Addr().(*net.TCPAddr).Port) }
	return packets.SlaveJoinConfirm{Token: token, IP: ip, LoadPort: p(0), TaskPort: p(1), ResultPort: p(2), MetricsPort: 9}
}

// accept takes the master's connection on each link and checks its hello.
func (l links) accept(t *testing.T, token uint64) [3]net.Conn {
	t.Helper()
	var conns [3]net.Conn
	for i, ln := range l {
		_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("the master did not open link %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		m, err := packets.ReadFrame(c)
		hello, ok := m.(packets.LinkHello)
		if err != nil || !ok || hello.Token != token || hello.Link != packets.LinkLoad+packets.Link(i) {
			t.Fatalf("link %d opened with %#v, %v; want a hello for link %d with token %d", i, m, err, packets.LinkLoad+packets.Link(i), token)
		}
		conns[i] = c
	}
	return conns
}

var loopback = netip.MustParseAddr("127.0.0.1")

// answerFirstPoll answers the master's first load poll, which puts the
// slave in the pool.
func answerFirstPoll(t *testing.T, load net.Conn) {
	t.Helper()
	_ = load.SetDeadline(time.Now().Add(10 * time.Second))
	m, err := packets.ReadFrame(load)
	req, ok := m.(packets.LoadRequest)
	if err != nil || !ok {
		t.Fatalf("first frame on the load link: %#v, %v", m, err)
	}
	if err := packets.NewWriter(load).Write(packets.LoadReport{Seq: req.Seq, MaxLoad: 1 << 40}); err != nil {
		t.Fatal(err)
	}
}

func slavesJoining(t *testing.T, base string) float64 {
	t.Helper()
	_, _, body := testutil.Get(t, base+"/api/status", "")
	return apijson.Decode(t, body).Num(t, "slaves_joining")
}

// The master refuses a join from a slave already in its pool, from one
// whose links it is opening, and any join past -max-slaves (joining slaves
// count); a repeated request before the confirm gets the same token.
func TestJoinRefusals(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.MaxSlaves = 3
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()

	// In the pool.
	member := newHandNode(t, m.DiscoveryAddr())
	token := member.wantAccept(false)
	if again := member.wantAccept(false); again != token {
		t.Fatalf("a repeated request got token %d, want the first one, %d", again, token)
	}
	l := listenLinks(t)
	member.send(l.confirm(token, loopback))
	conns := l.accept(t, token)
	answerFirstPoll(t, conns[0])
	testutil.WaitFor(t, 10*time.Second, "the hand-played slave in the pool", func() bool { return m.Slaves() == 1 })
	member.wantRefusal(false, "already in the pool")

	// Joining: confirmed, links opened, no load report yet.
	joining := newHandNode(t, m.DiscoveryAddr())
	jtoken := joining.wantAccept(false)
	jl := listenLinks(t)
	joining.send(jl.confirm(jtoken, loopback))
	jl.accept(t, jtoken)
	joining.wantRefusal(false, "already joining")
	if got := slavesJoining(t, base); got != 1 {
		t.Errorf("slaves_joining %v, want 1", got)
	}

	// One in the pool and one joining leave room for exactly one more.
	third := newHandNode(t, m.DiscoveryAddr())
	third.wantAccept(false)
	newHandNode(t, m.DiscoveryAddr()).wantRefusal(false, "the pool is full")
	// A monitor does not take a slave's place.
	newHandNode(t, m.DiscoveryAddr()).wantAccept(true)
}

// A confirm is taken only with the token of the ACK and the IP it came
// from; copies that do not match are dropped and the right one still joins.
// The wrong ones name other listeners: had the master taken one, it would
// have dialled those and dropped the right confirm as a later copy.
func TestJoinConfirmChecksTokenAndIP(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	h := newHandNode(t, m.DiscoveryAddr())
	token := h.wantAccept(false)
	l, wrongToken, wrongIP := listenLinks(t), listenLinks(t), listenLinks(t)
	h.send(wrongToken.confirm(token+1, loopback))
	h.send(wrongIP.confirm(token, netip.MustParseAddr("127.0.0.2")))
	h.send(l.confirm(token, loopback))
	conns := l.accept(t, token)
	answerFirstPoll(t, conns[0])
	testutil.WaitFor(t, 10*time.Second, "the slave in the pool", func() bool { return m.Slaves() == 1 })
}

// -join-timeout bounds a join from the ACK: a slave that never confirms, or
// that confirms and never answers the first poll, loses its place, and the
// place is free again.
func TestJoinTimeout(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.MaxSlaves = 1
	o.JoinTimeout = 300 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()

	silent := newHandNode(t, m.DiscoveryAddr())
	acked := time.Now()
	silent.wantAccept(false)
	other := newHandNode(t, m.DiscoveryAddr())
	for {
		r := other.request(false)
		if r.Accepted {
			if d := time.Since(acked); d < o.JoinTimeout {
				t.Fatalf("the unconfirmed join's place was given away after %s, before -join-timeout %s", d, o.JoinTimeout)
			}
			break
		}
		if r.Reason != "the pool is full" {
			t.Fatalf("refused with %q, want the pool is full", r.Reason)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Confirmed, links taken, no first report: dropped after the timeout.
	h := newHandNode(t, m.DiscoveryAddr())
	testutil.WaitFor(t, 10*time.Second, "the previous ACK to expire", func() bool { return h.request(false).Accepted })
	token := h.wantAccept(false)
	l := listenLinks(t)
	dialled := time.Now()
	h.send(l.confirm(token, loopback))
	conns := l.accept(t, token)
	_ = conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conns[0]); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the master never gave up on a join without a first report: %v", err)
	}
	if d := time.Since(dialled); d < o.JoinTimeout {
		t.Fatalf("the master gave up on the join after %s, before -join-timeout %s", d, o.JoinTimeout)
	}
	testutil.WaitFor(t, 10*time.Second, "the join to be forgotten", func() bool {
		return slavesJoining(t, base) == 0
	})
	if n := m.Slaves(); n != 0 {
		t.Fatalf("%d slaves in the pool, want 0", n)
	}
	h.wantAccept(false) // its place is free again
}

// joinMonitor plays a monitor's join and returns the link the master opened.
func joinMonitor(t *testing.T, h *handNode) net.Conn {
	t.Helper()
	token := h.wantAccept(true)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h.send(packets.MonitorJoinConfirm{Token: token, IP: loopback, Port: uint16(ln.Addr().(*net.TCPAddr).Port)})
	_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the master did not open the monitor link: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	m, err := packets.ReadFrame(c)
	if hello, ok := m.(packets.LinkHello); err != nil || !ok || hello.Token != token || hello.Link != packets.LinkMonitor {
		t.Fatalf("monitor link opened with %#v, %v", m, err)
	}
	return c
}

// One monitor at a time; one that asks for the slaves keeps its link, one
// silent for -monitor-timeout loses it, and the slot is free again.
func TestMonitorTimeout(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.MonitorTimeout = 400 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	first := newHandNode(t, m.DiscoveryAddr())
	link := joinMonitor(t, first)
	second := newHandNode(t, m.DiscoveryAddr())
	// Until the master has recorded the link, the refusal says "joining".
	testutil.WaitFor(t, 10*time.Second, "a second monitor to be refused", func() bool {
		r := second.request(true)
		if r.Accepted || (r.Reason != "a monitor is already connected" && r.Reason != "another monitor is joining") {
			t.Fatalf("a second monitor got %+v", r)
		}
		return r.Reason == "a monitor is already connected"
	})

	// Asking keeps the link for several timeouts.
	r, w := bufio.NewReader(link), packets.NewWriter(link)
	// The master's silence timer starts after its answer, so after the last
	// request was sent: the time the answer is read comes later still, by as
	// long as this goroutine takes to wake, and is no bound.
	var asked time.Time
	for seq := uint32(1); seq <= 10; seq++ {
		asked = time.Now()
		if err := w.Write(packets.SlaveListRequest{Seq: seq}); err != nil {
			t.Fatal(err)
		}
		_ = link.SetReadDeadline(time.Now().Add(10 * time.Second))
		msg, err := packets.ReadFrame(r)
		if list, ok := msg.(packets.SlaveList); err != nil || !ok || list.Seq != seq {
			t.Fatalf("answer %d: %#v, %v", seq, msg, err)
		}
		time.Sleep(o.MonitorTimeout / 4)
	}

	// Silence ends it, not before the timeout.
	_ = link.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := r.ReadByte()
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a silent monitor's link: %v, want it closed by the master", err)
	}
	if d := time.Since(asked); d < o.MonitorTimeout {
		t.Fatalf("the master dropped the monitor after %s of silence, before -monitor-timeout %s", d, o.MonitorTimeout)
	}
	testutil.WaitFor(t, 10*time.Second, "the monitor slot to be free", func() bool { return second.request(true).Accepted })
}
