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
	"github.com/lbproject/loadbalancer/common/securelink"
)

// Config says where to look for a master and how patiently.
type Config struct {
	// Target is the broadcast address and discovery port, or a master's
	// own address for a unicast join.
	Target netip.AddrPort
	// Unicast says Target is a master's address: answers from anywhere
	// else are ignored.
	Unicast bool
	// FirstWait is how long the first request waits for an answer; each
	// retry doubles it (with jitter) up to MaxWait. A refusal waits as
	// long as a request nobody answered.
	FirstWait time.Duration
	MaxWait   time.Duration
	// ConfirmBurst is how many confirm packets follow an ACK.
	ConfirmBurst int
	// StillLooking is how often a node that has found no master says so;
	// zero means StillLookingEvery.
	StillLooking time.Duration
	// Guard seals what is sent and checks what arrives; nil means no
	// secret.
	Guard *Guard
	Log   *logger.Logger
}

// StillLookingEvery is how often a node that has found no master says so.
const StillLookingEvery = 30 * time.Second

// Master is the master that accepted the join.
type Master struct {
	Addr  netip.AddrPort // where its answer came from
	Token uint64         // to be presented on every link it opens
	// Link protects the links it opens; nil without a secret.
	Link *securelink.Session
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
	j := &joiner{cfg: cfg, conn: conn, monitor: monitor, buf: make([]byte, 1500),
		warned: NewLogThrottle(time.Minute, 256)}
	if ap, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		j.self = netip.AddrPortFrom(ap.AddrPort().Addr().Unmap(), ap.AddrPort().Port())
	}
	if cfg.StillLooking <= 0 {
		cfg.StillLooking = StillLookingEvery
	}
	wait := cfg.FirstWait
	notice := time.Now().Add(cfg.StillLooking)
	var refusal string // the last refusal logged
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Master{}, err
		}
		req := packets.JoinRequest{Monitor: monitor}
		if cfg.Guard.Secured() {
			req.From = j.self // bound: the master refuses it from any other address
		}
		b, nonce := cfg.Guard.SealNonce(req) // a fresh nonce each time
		if _, err := conn.WriteToUDPAddrPort(b, cfg.Target); err != nil {
			j.warn("send", "join request not sent", "target", cfg.Target, "err", err)
		} else {
			cfg.Log.Debug("join request sent", "target", cfg.Target, "attempt", attempt)
		}
		deadline := time.Now().Add(jitter(wait))
		reply, from, replyNonce, err := j.awaitReply(ctx, nonce, deadline)
		switch {
		case ctx.Err() != nil:
			return Master{}, ctx.Err()
		case err != nil:
			// no answer in time: try again, more patiently
		case !reply.Accepted:
			if reply.Reason != refusal {
				cfg.Log.Warning("master refused join", "master", from, "reason", reply.Reason)
				refusal = reply.Reason
			}
			// back off as if unanswered, so a refused node does not flood
			if err := sleepUntil(ctx, deadline); err != nil {
				return Master{}, err
			}
		default:
			err := sendConfirms(conn, cfg, from, confirm(reply.Token))
			switch {
			case err == nil:
				return Master{Addr: from, Token: reply.Token, Link: cfg.Guard.LinkSession(nonce, replyNonce)}, nil
			case !neterr.Transient(err):
				return Master{}, err
			}
			// the network went away under the confirms: join again
			cfg.Log.Warning("join confirm not sent, trying again", "master", from, "err", err)
		}
		if now := time.Now(); !now.Before(notice) {
			cfg.Log.Info("still looking for a master", "target", cfg.Target, "attempts", attempt,
				"check", fmt.Sprintf("that a master runs and UDP port %d reaches it (firewall), that -iface names the master's subnet, or give -master HOST", cfg.Target.Port()))
			notice = now.Add(cfg.StillLooking)
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

// joiner is one Join's state.
type joiner struct {
	cfg     Config
	conn    *net.UDPConn
	monitor bool
	self    netip.AddrPort // the discovery socket's address: what replies must name
	buf     []byte
	warned  *LogThrottle // warnings per source, at most once a minute
}

// warn logs a warning about key at most once a minute.
func (j *joiner) warn(key, msg string, kv ...any) {
	if j.warned.Allow(key+" "+msg, "", time.Now()) {
		j.cfg.Log.Warning(msg, kv...)
	}
}

var errNoReply = errors.New("no reply")

// awaitReply reads datagrams until a join reply of the right kind to the
// request sealed with nonce arrives, or the deadline passes, and returns it
// with its sender and its own nonce. Anything else is dropped: strangers
// share the port. With a secret, the reply must be sealed and bound to this
// request, to this node's address and to the address it came from; an
// unauthenticated answer is only logged (a master without the secret, or
// with another, telling why), never taken even as a refusal.
func (j *joiner) awaitReply(ctx context.Context, nonce uint64, deadline time.Time) (packets.JoinReply, netip.AddrPort, uint64, error) {
	cfg := j.cfg
	if err := j.conn.SetReadDeadline(deadline); err != nil {
		return packets.JoinReply{}, netip.AddrPort{}, 0, err
	}
	for ctx.Err() == nil {
		n, from, err := j.conn.ReadFromUDPAddrPort(j.buf)
		if err != nil {
			return packets.JoinReply{}, netip.AddrPort{}, 0, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if cfg.Unicast && from != cfg.Target {
			cfg.Log.Debug("dropped packet: not from the master named", "from", from, "master", cfg.Target)
			continue
		}
		m, replyNonce, err := cfg.Guard.Open(j.buf[:n], from.Addr())
		if err != nil {
			j.unauthenticated(j.buf[:n], from, err)
			continue
		}
		reply, ok := m.(packets.JoinReply)
		if !ok || reply.Monitor != j.monitor {
			continue
		}
		if cfg.Guard.Secured() && (reply.Request != nonce || reply.To != j.self || reply.From != from) {
			cfg.Log.Debug("dropped join reply: not an answer to our latest request, to us, from its sender",
				"from", from, "names_from", reply.From, "names_to", reply.To)
			continue
		}
		return reply, from, replyNonce, nil
	}
	return packets.JoinReply{}, netip.AddrPort{}, 0, errNoReply
}

// unauthenticated explains, once a minute per source, an answer that
// failed the secret's check.
func (j *joiner) unauthenticated(b []byte, from netip.AddrPort, err error) {
	if !j.cfg.Guard.Secured() {
		j.cfg.Log.Debug("dropped packet", "from", from, "err", err)
		return
	}
	if reply, ok := plainRefusal(b, j.monitor); ok {
		j.warn(from.Addr().String(), "answer without the secret ignored: check that every node has the same secret",
			"from", from, "says", reply.Reason)
		return
	}
	if errors.Is(err, packets.ErrBadMAC) {
		j.warn(from.Addr().String(), "answer fails authentication: check that every node has the same secret",
			"from", from)
		return
	}
	j.cfg.Log.Debug("dropped packet", "from", from, "err", err)
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

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
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
