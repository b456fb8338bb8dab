package discovery

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// AcceptLink accepts connections on ln until deadline, keeping the first
// that comes from master's IP and opens with a hello carrying master's token
// for link kind (inside master.Link's encryption when a secret is set). Each
// connection's hello is read on its own goroutine, within HelloTimeout, so a
// stranger that connects and sends nothing (or garbage) cannot hold up the
// master's connection; a source may keep only a few connections waiting
// for their hello, and the master's IP has a share of its own, so no
// number of strangers' connections crowds the master out. Strangers are
// logged (once per source) and closed.
func AcceptLink(ctx context.Context, ln *net.TCPListener, kind packets.Link, master Master, deadline time.Time, log *logger.Logger) (net.Conn, packets.LinkHello, error) {
	stop := context.AfterFunc(ctx, func() { _ = ln.SetDeadline(time.Now()) })
	defer stop()
	if err := ln.SetDeadline(deadline); err != nil {
		return nil, packets.LinkHello{}, err
	}
	var (
		readers sync.WaitGroup // one per connection whose hello is awaited
		mu      sync.Mutex
		waiting = map[*net.TCPConn]struct{}{} // their connections
		winner  net.Conn
		hello   packets.LinkHello
		over    bool // AcceptLink has returned, or is returning
	)
	// result ends the accept loop: the connections still awaited are closed
	// and their readers waited for; then the winner if there is one, else err.
	result := func(err error) (net.Conn, packets.LinkHello, error) {
		mu.Lock()
		over = true
		for c := range waiting {
			_ = c.Close()
		}
		w, h := winner, hello
		mu.Unlock()
		readers.Wait()
		if w != nil {
			_ = w.SetDeadline(time.Time{})
			return w, h, nil
		}
		return nil, packets.LinkHello{}, err
	}
	pending := newPendingHellos(master.Addr.Addr())
	warned := NewLogThrottle(time.Minute, 64)
	reject := func(from net.Addr, why string, err error) {
		if ip := remoteIPOf(from); warned.Allow(ip.String(), why, time.Now()) {
			log.Warning("rejected link: "+why, "link", kind, "from", from, "err", err)
		} else {
			log.Debug("rejected link: "+why, "link", kind, "from", from, "err", err)
		}
	}
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return result(err)
		}
		src := remoteIPOf(c.RemoteAddr())
		if !pending.add(src) {
			reject(c.RemoteAddr(), "too many connections without a hello from this source", nil)
			_ = c.Close()
			continue
		}
		mu.Lock()
		waiting[c] = struct{}{}
		mu.Unlock()
		readers.Go(func() {
			defer pending.done(src)
			conn := master.Link.Node(c, kind)
			helloBy := time.Now().Add(HelloTimeout)
			if deadline.Before(helloBy) {
				helloBy = deadline
			}
			h, err := readHello(conn, helloBy)
			if err == nil && h.Token == master.Token && h.Link == kind && src == master.Addr.Addr() {
				mu.Lock()
				won := !over && winner == nil
				if won {
					winner, hello = conn, h
					delete(waiting, c)
				}
				mu.Unlock()
				if won {
					_ = ln.SetDeadline(time.Now()) // wake the accept loop
					return
				}
			} else {
				reject(c.RemoteAddr(), "no valid hello", err)
			}
			mu.Lock()
			delete(waiting, c)
			mu.Unlock()
			_ = c.Close()
		})
	}
}

// HelloTimeout is how long a connection to a link port may take to send
// its hello; the master sends it at once.
const HelloTimeout = time.Second

const (
	// maxPendingPerSource bounds the connections of one stranger's IP
	// whose hello is awaited at once; maxPendingMaster the master's IP's,
	// which has room of its own; maxPendingStrangers all strangers'.
	maxPendingPerSource = 4
	maxPendingMaster    = 16
	maxPendingStrangers = 64
)

// pendingHellos counts the connections awaiting their hello, per source.
type pendingHellos struct {
	master netip.Addr

	mu        sync.Mutex
	bySource  map[netip.Addr]int
	strangers int
}

func newPendingHellos(master netip.Addr) *pendingHellos {
	return &pendingHellos{master: master, bySource: make(map[netip.Addr]int)}
}

// add counts a connection from src, unless src or the strangers as a whole
// are at their bound.
func (p *pendingHellos) add(src netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.bySource[src]
	switch {
	case src == p.master:
		if n >= maxPendingMaster {
			return false
		}
	case n >= maxPendingPerSource || p.strangers >= maxPendingStrangers:
		return false
	default:
		p.strangers++
	}
	p.bySource[src] = n + 1
	return true
}

func (p *pendingHellos) done(src netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if src != p.master {
		p.strangers--
	}
	if p.bySource[src]--; p.bySource[src] == 0 {
		delete(p.bySource, src)
	}
}

func readHello(c net.Conn, deadline time.Time) (packets.LinkHello, error) {
	if err := c.SetReadDeadline(deadline); err != nil {
		return packets.LinkHello{}, err
	}
	m, err := packets.ReadFrame(c) // unbuffered: the next frame may follow at once
	if err != nil {
		return packets.LinkHello{}, err
	}
	hello, ok := m.(packets.LinkHello)
	if !ok {
		return packets.LinkHello{}, fmt.Errorf("first frame is %s, not LinkHello", m.Type())
	}
	return hello, nil
}

func remoteIPOf(a net.Addr) netip.Addr {
	if a, ok := a.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
