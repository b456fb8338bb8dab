// Package discovery is the joining side of the UDP handshake: a slave (or
// monitor) repeats its join request to the subnet's broadcast address, or to
// a master named on the command line, until a master acknowledges it, then
// confirms with a burst of packets that say where to dial its links.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/neterr"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/common/packets"
)

// Config says where to look for a master and how patiently.
type Config struct {
	// Target is the broadcast address and discovery port, or a master's
	// own address for a unicast join.
	Target netip.AddrPort
	// FirstWait is how long the first request waits for an answer; each
	// retry doubles it (with jitter) up to MaxWait.
	FirstWait time.Duration
	MaxWait   time.Duration
	// ConfirmBurst is how many confirm packets follow an ACK.
	ConfirmBurst int
	// Guard seals what is sent and checks what arrives; nil means no
	// secret.
	Guard *Guard
	Log   *logger.Logger
}

// Master is the master that accepted the join.
type Master struct {
	Addr  netip.AddrPort // where its answer came from
	Token uint64         // to be presented on every link it opens
}

// Join sends a join request (a monitor's when monitor is set) from conn
// until a master accepts, then sends confirm(token) ConfirmBurst times to
// that master. It returns only on acceptance or when ctx ends.
func Join(ctx context.Context, conn *net.UDPConn, cfg Config, monitor bool, confirm func(token uint64) packets.Message) (Master, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	if cfg.Guard == nil {
		cfg.Guard = NewGuard("")
	}
	wait := cfg.FirstWait
	buf := make([]byte, 1500)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Master{}, err
		}
		req := cfg.Guard.Seal(packets.JoinRequest{Monitor: monitor}) // a fresh nonce each time
		if _, err := conn.WriteToUDPAddrPort(req, cfg.Target); err != nil {
			cfg.Log.Warning("join request not sent", "target", cfg.Target, "err", err)
		} else {
			cfg.Log.Debug("join request sent", "target", cfg.Target, "attempt", attempt)
		}
		m, from, err := awaitReply(ctx, conn, buf, cfg, monitor, time.Now().Add(jitter(wait)))
		switch {
		case ctx.Err() != nil:
			return Master{}, ctx.Err()
		case err != nil:
			// no answer in time: try again, more patiently
		case !m.Accepted:
			cfg.Log.Warning("master refused join", "master", from, "reason", m.Reason)
		default:
			err := sendConfirms(conn, cfg, from, confirm(m.Token))
			switch {
			case err == nil:
				return Master{Addr: from, Token: m.Token}, nil
			case !neterr.Transient(err):
				return Master{}, err
			}
			// the network went away under the confirms: join again
			cfg.Log.Warning("join confirm not sent, trying again", "master", from, "err", err)
		}
		wait = min(2*wait, cfg.MaxWait)
	}
}

// sendConfirms sends the burst of confirms, each copy sealed apart: a fresh
// nonce, or the master would take the copies for replays.
func sendConfirms(conn *net.UDPConn, cfg Config, to netip.AddrPort, c packets.Message) error {
	for i := 0; i < cfg.ConfirmBurst; i++ {
		if _, err := conn.WriteToUDPAddrPort(cfg.Guard.Seal(c), to); err != nil {
			return fmt.Errorf("confirming join to %s: %w", to, err)
		}
	}
	return nil
}

var errNoReply = errors.New("no reply")

// awaitReply reads datagrams until a join reply of the right kind arrives or
// the deadline passes. Anything else is dropped: strangers share the port.
// With a secret, an unauthenticated reply can only ever count as a refusal
// (a master telling a misconfigured node why), never as an ACK.
func awaitReply(ctx context.Context, conn *net.UDPConn, buf []byte, cfg Config, monitor bool, deadline time.Time) (packets.JoinReply, netip.AddrPort, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return packets.JoinReply{}, netip.AddrPort{}, err
	}
	for ctx.Err() == nil {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return packets.JoinReply{}, netip.AddrPort{}, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		m, err := cfg.Guard.Open(buf[:n])
		if err != nil {
			if reply, ok := plainRefusal(buf[:n], monitor); ok && cfg.Guard.Secured() {
				reply.Reason = "unauthenticated answer: " + reply.Reason
				return reply, from, nil
			}
			cfg.Log.Debug("dropped packet", "from", from, "err", err)
			continue
		}
		if reply, ok := m.(packets.JoinReply); ok && reply.Monitor == monitor {
			return reply, from, nil
		}
	}
	return packets.JoinReply{}, netip.AddrPort{}, errNoReply
}

// plainRefusal decodes b as an unsealed NAK of the right kind.
func plainRefusal(b []byte, monitor bool) (packets.JoinReply, bool) {
	m, err := packets.Decode(b)
	if err != nil {
		return packets.JoinReply{}, false
	}
	reply, ok := m.(packets.JoinReply)
	return reply, ok && !reply.Accepted && reply.Monitor == monitor
}

// jitter spreads d by ±20% so that slaves started together do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	return d*8/10 + rand.N(d*4/10+1)
}

// Target is where to send join requests: master as HOST[:PORT] (port
// defaulting to port) for a unicast join, or, when master is empty, the
// broadcast address of ifc.
func Target(master string, port int, ifc netif.Iface) (netip.AddrPort, error) {
	if master == "" {
		return netip.AddrPortFrom(ifc.Broadcast, uint16(port)), nil
	}
	addr := master
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, strconv.Itoa(port)) // HOST alone: the usual port
	}
	a, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("master address %q: %w", master, err)
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
