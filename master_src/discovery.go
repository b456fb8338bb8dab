package master

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/neterr"
	"github.com/lbproject/loadbalancer/common/packets"
)

// serveDiscovery answers join requests and confirms until shutdown closes
// the socket. A transient error (an interface going down) is waited out; any
// other is fatal: the master could no longer take slaves. The sessions it
// starts run on sessions, which ends at shutdown.
func (m *Master) serveDiscovery(sessions context.Context) error {
	buf := make([]byte, 2048)
	backoff := neterr.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		n, from, err := m.udp.ReadFromUDPAddrPort(buf)
		switch {
		case errors.Is(err, net.ErrClosed):
			return nil
		case neterr.Transient(err):
			wait := backoff.Next()
			m.log.Warning("discovery socket error, retrying", "err", err, "in", wait)
			select {
			case <-time.After(wait):
			case <-sessions.Done():
			}
			continue
		case err != nil:
			return fmt.Errorf("discovery socket: %w", err)
		}
		backoff.Reset()
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !m.sources.allow(from.Addr(), time.Now()) {
			m.metrics.handshakeDropped.WithLabelValues("rate_limited").Inc()
			continue
		}
		msg, err := m.guard.Open(buf[:n])
		if err != nil {
			m.refuseUnauthenticated(buf[:n], from, err)
			continue
		}
		key := nodeKey{IP: from.Addr(), ID: from.Port()}
		switch msg := msg.(type) {
		case packets.JoinRequest:
			m.answerJoin(peerKey{key, msg.Monitor}, from)
		case packets.SlaveJoinConfirm:
			m.confirmJoin(peerKey{key, false}, msg.Token, msg.IP, func(s *session) error {
				return s.runSlave(sessions, msg)
			})
		case packets.MonitorJoinConfirm:
			m.confirmJoin(peerKey{key, true}, msg.Token, msg.IP, func(s *session) error {
				return s.runMonitor(sessions, msg)
			})
		default:
			m.log.Debug("dropped discovery packet", "from", from, "type", msg.Type())
		}
	}
}

// refuseUnauthenticated drops a packet that failed decoding or the secret's
// check. A plain join request to a master with a secret gets a plain NAK
// saying why, so a misconfigured node's operator is told; nothing else is
// answered.
func (m *Master) refuseUnauthenticated(b []byte, from netip.AddrPort, err error) {
	reason := "malformed"
	switch {
	case errors.Is(err, packets.ErrBadMAC):
		reason = "bad_mac"
	case errors.Is(err, discovery.ErrStale):
		reason = "stale"
	case errors.Is(err, discovery.ErrReplay):
		reason = "replayed"
	}
	m.metrics.handshakeDropped.WithLabelValues(reason).Inc()
	plain, perr := packets.Decode(b)
	req, isJoin := plain.(packets.JoinRequest)
	if !m.guard.Secured() || perr != nil || !isJoin {
		m.log.Debug("dropped discovery packet", "from", from, "err", err)
		return
	}
	m.log.Warning("join refused: no secret", "from", from, "monitor", req.Monitor)
	nak := packets.JoinReply{Monitor: req.Monitor, Reason: "this master requires the shared secret (-secret or LB_SECRET)"}
	if _, err := m.udp.WriteToUDPAddrPort(packets.Encode(nak), from); err != nil {
		m.log.Warning("join reply not sent", "to", from, "err", err)
	}
}

// answerJoin ACKs a join request, or NAKs it (registry.ack says when). A
// repeated request (the ACK was lost) gets the same token again.
func (m *Master) answerJoin(k peerKey, from netip.AddrPort) {
	reply := m.decideJoin(k)
	reply.Monitor = k.monitor
	if reply.Accepted {
		m.log.Info("join request granted", k.role(), k.nodeKey)
	} else {
		m.log.Info("join request refused", k.role(), k.nodeKey, "reason", reply.Reason)
	}
	if _, err := m.udp.WriteToUDPAddrPort(m.guard.Seal(reply), from); err != nil {
		m.log.Warning("join reply not sent", k.role(), k.nodeKey, "err", err)
	}
}

func (m *Master) decideJoin(k peerKey) packets.JoinReply { return m.reg.ack(k, time.Now()) }

// confirmJoin starts the session of a node on the first valid confirm of its
// burst; later copies, and confirms that match no ACK, are dropped. run
// serves the node until it is lost, on the master's group.
func (m *Master) confirmJoin(k peerKey, token uint64, ip netip.Addr, run func(*session) error) {
	s := m.reg.confirm(k, token, ip, time.Now())
	if s == nil {
		m.log.Debug("join confirm matches no pending join", "from", k.nodeKey, "ip_in_packet", ip)
		return
	}
	s.m = m
	m.wg.Go(func() {
		if err := run(s); err != nil {
			m.log.Warning("could not connect", k.role(), k.nodeKey, "err", err)
		}
	})
}

func newToken() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return binary.BigEndian.Uint64(b[:])
}
