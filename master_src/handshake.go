package master

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/common/packets"
)

// handshake is the master's state for a hostile LAN: what it may say to
// whom, and how often. Every table here is bounded and forgets rather than
// refuses, and none is touched by a packet before its MAC is checked, except
// the ones meant for unauthenticated packets (naks, logs).
type handshake struct {
	iface string
	udp   *net.UDPConn
	// naks bounds the plain NAKs sent to unauthenticated join requests per
	// source IP (a reflection a stranger could aim at a spoofed address).
	naks *sourceLimiter
	// logs keeps warnings about a source, and refusals of a node, to one a
	// minute unless their text changes.
	logs *discovery.LogThrottle
}

func newHandshake(iface string, udp *net.UDPConn) *handshake {
	return &handshake{iface: iface, udp: udp, naks: newSourceLimiter(1, 3),
		logs: discovery.NewLogThrottle(time.Minute, 4096)}
}

// once reports whether a line with text about key may be logged now.
func (h *handshake) once(key, text string) bool { return h.logs.Allow(key, text, time.Now()) }

// answerAddr is the address the master's answer to peer leaves from, which
// a bound reply names: the discovery socket's own, or when it listens on
// every address, the one the kernel picks toward peer (a route lookup; no
// packet is sent).
func (h *handshake) answerAddr(peer netip.AddrPort) netip.AddrPort {
	local := h.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if !local.Addr().IsUnspecified() {
		return local
	}
	d := net.Dialer{}
	if h.iface != "" {
		d.Control = netif.BindToDevice(h.iface)
	}
	c, err := d.Dial("udp4", peer.String())
	if err != nil {
		return local // unspecified: the node will ignore the reply, and retry
	}
	defer c.Close()
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	return netip.AddrPortFrom(src, local.Port())
}

// refusalFor is the plain NAK that explains to an unauthenticated node why
// it cannot join, or false when the packet is no join request.
func refusalFor(b []byte, err error) (packets.JoinReply, bool) {
	if plain, perr := packets.Decode(b); perr == nil {
		if req, ok := plain.(packets.JoinRequest); ok {
			return packets.JoinReply{Monitor: req.Monitor, Reason: "this master requires the shared secret (-secret or LB_SECRET)"}, true
		}
		return packets.JoinReply{}, false
	}
	t, sealed := packets.SealedType(b)
	if !sealed || (t != packets.TypeSlaveJoinRequestBound && t != packets.TypeMonitorJoinRequestBound) {
		return packets.JoinReply{}, false
	}
	monitor := t == packets.TypeMonitorJoinRequestBound
	switch {
	case errors.Is(err, packets.ErrBadMAC):
		return packets.JoinReply{Monitor: monitor, Reason: "the master cannot authenticate this request: check that every node has the same secret"}, true
	case errors.Is(err, discovery.ErrStale):
		return packets.JoinReply{Monitor: monitor, Reason: "the master's clock and this node's differ by more than 2 minutes"}, true
	}
	return packets.JoinReply{}, false
}
