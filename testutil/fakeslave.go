package testutil

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// FakeBehaviour is what a fake slave does with every task it is sent.
type FakeBehaviour int

const (
	// FakeRefuse answers every task with a NAK.
	FakeRefuse FakeBehaviour = iota
	// FakeDie closes all its links on the first task, as a crash would.
	FakeDie
	// FakeSilent ACKs every task and never returns a result; it answers
	// each TaskCancel with TaskCancelled.
	FakeSilent
	// FakeDeaf ACKs every task and answers nothing more, cancels included:
	// a slave that answers load polls but never returns results.
	FakeDeaf
)

// FakeSlave configures StartFakeSlaveWith.
type FakeSlave struct {
	IP        string // a loopback address; "" for 127.0.0.1
	Discovery string // the master's discovery address
	MaxLoad   uint64
	Behaviour FakeBehaviour
	// Cancels, when set, receives the ID of every TaskCancel the slave
	// reads; an ID that finds it full is dropped (give it room).
	Cancels chan<- uint64
}

// StartFakeSlave joins the master at discovery for one session, claims
// maxLoad, answers load polls, and treats tasks as behaviour says. It speaks
// the protocol through the packets package only, so it also checks that
// the master keeps to the wire format.
func StartFakeSlave(t testing.TB, discoveryAddr string, maxLoad uint64, behaviour FakeBehaviour) *Node {
	t.Helper()
	return StartFakeSlaveAt(t, "127.0.0.1", discoveryAddr, maxLoad, behaviour)
}

// StartFakeSlaveAt is StartFakeSlave on another loopback address, such as
// 127.0.0.2, so that one process can play slaves on several hosts.
func StartFakeSlaveAt(t testing.TB, ip, discoveryAddr string, maxLoad uint64, behaviour FakeBehaviour) *Node {
	t.Helper()
	return StartFakeSlaveWith(t, FakeSlave{IP: ip, Discovery: discoveryAddr, MaxLoad: maxLoad, Behaviour: behaviour})
}

// StartFakeSlaveWith is StartFakeSlave configured by f.
func StartFakeSlaveWith(t testing.TB, f FakeSlave) *Node {
	t.Helper()
	if f.IP == "" {
		f.IP = "127.0.0.1"
	}
	addr, discoveryAddr, maxLoad := netip.MustParseAddr(f.IP), f.Discovery, f.MaxLoad
	udp, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var lns [3]*net.TCPListener
	for i := range lns {
		if lns[i], err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0))); err != nil {
			t.Fatal(err)
		}
	}
	target, err := netip.ParseAddrPort(discoveryAddr)
	if err != nil {
		t.Fatal(err)
	}
	return Run(t, func(ctx context.Context) error {
		defer udp.Close()
		for _, ln := range lns {
			defer ln.Close()
		}
		cfg := discovery.Config{Target: target, FirstWait: 50 * time.Millisecond, MaxWait: 200 * time.Millisecond, ConfirmBurst: 3, Log: logger.Discard()}
		port := func(i int) uint16 { return uint16(lns[i].Addr().(*net.TCPAddr).Port) }
		var conns [3]net.Conn
		// As a real slave does, a join whose links do not all come (its
		// confirms lost, say, with a hundred slaves joining at once) is
		// given up after fakeLinkTimeout and made again.
		for {
			master, err := discovery.Join(ctx, udp, cfg, false, func(token uint64) packets.Message {
				return packets.SlaveJoinConfirm{Token: token, IP: addr, LoadPort: port(0), TaskPort: port(1), ResultPort: port(2), MetricsPort: 9}
			})
			if err != nil {
				return nil // stopped before joining
			}
			if conns, err = acceptFakeLinks(ctx, lns, master); err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil // stopped before the links came
			}
		}
		for _, c := range conns {
			defer c.Close()
		}
		go serveFakeLoad(conns[0], maxLoad)
		go serveFakeTasks(conns, f)
		<-ctx.Done()
		return nil
	})
}

// fakeLinkTimeout is the fake slave's wait for the master's three links
// after a join (the slave's -link-timeout default).
const fakeLinkTimeout = 5 * time.Second

// acceptFakeLinks accepts the load, task and result links of the join
// master answered, within fakeLinkTimeout, through the slave's own
// discovery.AcceptLink: a late link of an earlier join, with its old token,
// is closed, not taken. On an error it closes what it accepted.
func acceptFakeLinks(ctx context.Context, lns [3]*net.TCPListener, master discovery.Master) ([3]net.Conn, error) {
	var conns [3]net.Conn
	deadline := time.Now().Add(fakeLinkTimeout)
	for i, kind := range []packets.Link{packets.LinkLoad, packets.LinkTask, packets.LinkResult} {
		c, _, err := discovery.AcceptLink(ctx, lns[i], kind, master, deadline, logger.Discard())
		if err != nil {
			for _, c := range conns[:i] {
				_ = c.Close()
			}
			return [3]net.Conn{}, err
		}
		conns[i] = c
	}
	return conns, nil
}

func serveFakeLoad(c net.Conn, maxLoad uint64) {
	r, w := bufio.NewReader(c), packets.NewWriter(c)
	for {
		m, err := packets.ReadFrame(r)
		if err != nil {
			return
		}
		if req, ok := m.(packets.LoadRequest); ok {
			if w.Write(packets.LoadReport{Seq: req.Seq, MaxLoad: maxLoad}) != nil {
				return
			}
		}
	}
}

func serveFakeTasks(conns [3]net.Conn, f FakeSlave) {
	r, results := bufio.NewReader(conns[1]), packets.NewWriter(conns[2])
	for {
		m, err := packets.ReadFrame(r)
		if err != nil {
			return
		}
		if c, ok := m.(packets.TaskCancel); ok {
			select {
			case f.Cancels <- c.ID: // a nil channel is never ready
			default:
			}
			if f.Behaviour == FakeSilent && results.Write(packets.TaskCancelled{ID: c.ID}) != nil {
				return
			}
			continue
		}
		req, ok := m.(packets.TaskRequest)
		if !ok {
			continue
		}
		switch f.Behaviour {
		case FakeSilent, FakeDeaf:
			if results.Write(packets.TaskAck{ID: req.ID}) != nil {
				return
			}
		case FakeRefuse:
			if results.Write(packets.TaskNak{ID: req.ID, Reason: "fake slave refuses everything"}) != nil {
				return
			}
		case FakeDie:
			for _, c := range conns {
				_ = c.Close()
			}
			return
		}
	}
}
