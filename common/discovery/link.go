package discovery

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// AcceptLink accepts connections on ln until deadline, keeping the first
// that comes from master's IP and opens with a hello carrying master's token
// for link kind; strangers are logged and closed.
func AcceptLink(ctx context.Context, ln *net.TCPListener, kind packets.Link, master Master, deadline time.Time, log *logger.Logger) (net.Conn, packets.LinkHello, error) {
	stop := context.AfterFunc(ctx, func() { _ = ln.SetDeadline(time.Now()) })
	defer stop()
	if err := ln.SetDeadline(deadline); err != nil {
		return nil, packets.LinkHello{}, err
	}
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return nil, packets.LinkHello{}, err
		}
		hello, err := readHello(c, deadline)
		if err == nil && hello.Token == master.Token && hello.Link == kind && remoteIP(c) == master.Addr.Addr() {
			_ = c.SetDeadline(time.Time{})
			return c, hello, nil
		}
		log.Warning("rejected link", "link", kind, "from", c.RemoteAddr(), "err", err)
		_ = c.Close()
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

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
