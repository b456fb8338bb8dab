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
	secured := m.guard.Secured()
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
		// With a secret, the MAC is checked before the master keeps anything
		// about the source: strangers cannot fill the per-source tables.
		if !secured && !m.sources.allow(from.Addr(), time.Now()) {
			m.metrics.handshakeDropped.WithLabelValues("rate_limited").Inc()
			continue
		}
		msg, nonce, err := m.guard.Open(buf[:n], from.Addr())
		if err != nil {
			m.refuseUnauthenticated(buf[:n], from, err)
			continue
		}
		if secured && !m.sources.allow(from.Addr(), time.Now()) {
			m.metrics.handshakeDropped.WithLabelValues("rate_limited").Inc()
			continue
		}
		key := nodeKey{IP: from.Addr(), ID: from.Port()}
		switch msg := msg.(type) {
		case packets.JoinRequest:
			m.answerJoin(peerKey{key, msg.Monitor}, from, msg, nonce)
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
// check. A join request without the secret, or sealed with another, gets a
// plain NAK saying why (a few per source and second at most), and the
// master warns once a minute per source, so both operators are told;
// nothing else is answered.
func (m *Master) refuseUnauthenticated(b []byte, from netip.AddrPort, err error) {
	reason := "malformed"
	switch {
	case errors.Is(err, packets.ErrBadMAC):
		reason = "bad_mac"
	case errors.Is(err, discovery.ErrStale):
		reason = "stale"
	case errors.Is(err, discovery.ErrReplay), errors.Is(err, discovery.ErrReplayMemoryFull):
		reason = "replayed"
	}
	m.metrics.handshakeDropped.WithLabelValues(reason).Inc()
	nak, isJoin := refusalFor(b, err)
	if !m.guard.Secured() || !isJoin {
		m.log.Debug("dropped discovery packet", "from", from, "err", err)
		return
	}
	if m.hs.once(from.Addr().String(), nak.Reason) {
		m.log.Warning("join refused: "+nak.Reason, "from", from, "monitor", nak.Monitor)
	}
	if !m.hs.naks.allow(from.Addr(), time.Now()) {
		return
	}
	if _, err := m.udp.WriteToUDPAddrPort(packets.Encode(nak), from); err != nil {
		m.log.Warning("join reply not sent", "to", from, "err", err)
	}
}

// answerJoin ACKs a join request, or NAKs it (registry.ack says when). A
// repeated request (the ACK was lost) gets the same token again. With a
// secret, a request must come from the address it claims (a replayed or
// forwarded one is ignored, so a restarted master with an empty replay
// memory answers no stranger), the reply names the request's nonce, the
// requester's address and the master's, and the session keeps the keys of
// its links, derived from both nonces.
func (m *Master) answerJoin(k peerKey, from netip.AddrPort, req packets.JoinRequest, nonce uint64) {
	secured := m.guard.Secured()
	if secured && req.From != from {
		m.metrics.handshakeDropped.WithLabelValues("wrong_source").Inc()
		if m.hs.once(from.Addr().String(), "wrong source") {
			m.log.Warning("join request ignored: it claims another sender (replayed or forwarded)", "from", from, "claims", req.From)
		}
		return
	}
	reply := m.reg.ack(k, time.Now())
	reply.Monitor = k.monitor
	if secured {
		reply.Request, reply.To, reply.From = nonce, from, m.hs.answerAddr(from)
	}
	if reply.Accepted {
		m.log.Info("join request granted", k.role(), k.nodeKey)
	} else if m.hs.once(k.role()+" "+k.nodeKey.String(), reply.Reason) {
		m.log.Info("join request refused", k.role(), k.nodeKey, "reason", reply.Reason)
	}
	b, replyNonce := m.guard.SealNonce(reply)
	if reply.Accepted {
		m.reg.setLinkKeys(k, reply.Token, m.guard.LinkSession(nonce, replyNonce))
	}
	if _, err := m.udp.WriteToUDPAddrPort(b, from); err != nil {
		m.log.Warning("join reply not sent", k.role(), k.nodeKey, "err", err)
	}
}

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
