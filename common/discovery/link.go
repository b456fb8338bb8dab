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
// for link kind. Each connection's hello is read on its own goroutine, so a
// stranger that connects and sends nothing (or garbage) cannot hold up the
// master's connection; strangers are logged and closed.
func AcceptLink(ctx context.Context, ln *net.TCPListener, kind packets.Link, master Master, deadline time.Time, log *logger.Logger) (net.Conn, packets.LinkHello, error) {
	stop := context.AfterFunc(ctx, func() { _ = ln.SetDeadline(time.Now()) })
	defer stop()
	if err := ln.SetDeadline(deadline); err != nil {
		return nil, packets.LinkHello{}, err
	}
	var (
		mu     sync.Mutex
		winner net.Conn
		hello  packets.LinkHello
		over   bool // AcceptLink has returned, or is returning
	)
	// result ends the accept loop: the winner if there is one, else err.
	result := func(err error) (net.Conn, packets.LinkHello, error) {
		mu.Lock()
		defer mu.Unlock()
		over = true
		if winner != nil {
			_ = winner.SetDeadline(time.Time{})
			return winner, hello, nil
		}
		return nil, packets.LinkHello{}, err
	}
	pending := make(chan struct{}, maxPendingHellos)
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return result(err)
		}
		select {
		case pending <- struct{}{}:
		default:
			log.Warning("rejected link: too many connections without a hello", "link", kind, "from", c.RemoteAddr())
			_ = c.Close()
			continue
		}
		go func() {
			defer func() { <-pending }()
			h, err := readHello(c, deadline)
			if err == nil && h.Token == master.Token && h.Link == kind && remoteIP(c) == master.Addr.Addr() {
				mu.Lock()
				won := !over && winner == nil
				if won {
					winner, hello = c, h
				}
				mu.Unlock()
				if won {
					_ = ln.SetDeadline(time.Now()) // wake the accept loop
					return
				}
			} else {
				log.Warning("rejected link", "link", kind, "from", c.RemoteAddr(), "err", err)
			}
			_ = c.Close()
		}()
	}
}

// maxPendingHellos bounds the connections whose hello is awaited at once.
const maxPendingHellos = 16

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

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
