package master

import (
	"net/netip"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/securelink"
)

// nodeKey names a node that joins the master, a slave or a monitor: its IP
// and its ID (the port of its discovery socket), so several nodes can share
// a host.
type nodeKey struct {
	IP netip.Addr
	ID uint16
}

func (k nodeKey) String() string { return netip.AddrPortFrom(k.IP, k.ID).String() }

// peerKey names a session: a slave and a monitor may share a nodeKey.
type peerKey struct {
	nodeKey
	monitor bool
}

func (k peerKey) role() string {
	if k.monitor {
		return "monitor"
	}
	return "slave"
}

// sessionState is where a node stands with the master. A session moves
// only forward, through the registry's transitions:
//
//	acked ──confirm──▶ linking ──serve──▶ serving ──drain──▶ draining
//	  │                   │                  │                  │
//	  └─(ACK lapses)      └──────────────── lose ───────────────┴──▶ lost
type sessionState uint8

const (
	// stateAcked: sent an ACK with a token; the node's confirm is awaited
	// until the ACK lapses (Options.JoinTimeout).
	stateAcked sessionState = iota
	// stateLinking: confirmed; the master dials its links and, for a slave,
	// awaits its first load report.
	stateLinking
	// stateServing: connected; a slave takes tasks.
	stateServing
	// stateDraining: a slave said it is leaving: it takes no new task,
	// finishes those it holds, then closes its links.
	stateDraining
	// stateLost: gone, and out of the registry.
	stateLost
)

// registry holds every session from the node's ACK until it is lost, under
// one lock: the join decisions, the status page and shutdown all read it.
type registry struct {
	maxSlaves   int
	joinTimeout time.Duration

	mu       sync.Mutex
	closing  bool
	sessions map[peerKey]*session
}

func newRegistry(maxSlaves int, joinTimeout time.Duration) *registry {
	return &registry{maxSlaves: maxSlaves, joinTimeout: joinTimeout, sessions: make(map[peerKey]*session)}
}

// ack decides a join request: an ACK with a new session's token, the same
// token again for a repeated request (its ACK was lost), or a NAK with the
// reason (already connected or connecting, a full pool, a second monitor).
func (r *registry) ack(k peerKey, now time.Time) packets.JoinReply {
	r.mu.Lock()
	defer r.mu.Unlock()
	slaves, monitors := 0, 0
	for sk, s := range r.sessions {
		switch {
		case s.state == stateAcked && now.After(s.expires):
			delete(r.sessions, sk)
		case sk.monitor:
			monitors++
		default:
			slaves++
		}
	}
	if s, ok := r.sessions[k]; ok {
		switch s.state {
		case stateAcked:
			return packets.JoinReply{Accepted: true, Token: s.token}
		case stateLinking:
			return packets.JoinReply{Reason: "already joining"}
		}
		if k.monitor {
			return packets.JoinReply{Reason: "a monitor is already connected"}
		}
		return packets.JoinReply{Reason: "already in the pool"}
	}
	switch {
	case r.closing:
		return packets.JoinReply{Reason: "the master is shutting down"}
	case k.monitor && monitors > 0:
		if r.monitorServingLocked() {
			return packets.JoinReply{Reason: "a monitor is already connected"}
		}
		return packets.JoinReply{Reason: "another monitor is joining"}
	case !k.monitor && slaves >= r.maxSlaves:
		return packets.JoinReply{Reason: "the pool is full"}
	}
	s := newSession(k, newToken(), now.Add(r.joinTimeout))
	r.sessions[k] = s
	return packets.JoinReply{Accepted: true, Token: s.token}
}

func (r *registry) monitorServingLocked() bool {
	for k, s := range r.sessions {
		if k.monitor && s.state == stateServing {
			return true
		}
	}
	return false
}

// setLinkKeys gives the acked session of k, ACKed with token, the keys of
// its links (nil: no secret). A repeated request's ACK carries new nonces,
// so the keys of the latest ACK win, as on the node's side.
func (r *registry) setLinkKeys(k peerKey, token uint64, keys *securelink.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sessions[k]; ok && s.state == stateAcked && s.token == token {
		s.keys = keys
	}
}

// confirm moves the acked session of k to linking, if token and ip match
// its ACK: the first valid confirm of a burst starts the session; later
// copies, and confirms that match no ACK, get nil.
func (r *registry) confirm(k peerKey, token uint64, ip netip.Addr, now time.Time) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[k]
	if !ok || s.state != stateAcked || s.token != token || ip.Unmap() != k.IP || now.After(s.expires) || r.closing {
		return nil
	}
	s.state = stateLinking
	return s
}

// serve moves a linking session to serving; it fails once shutdown began
// (the caller then closes what it opened and loses the session).
func (r *registry) serve(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing || s.state != stateLinking {
		return false
	}
	s.state = stateServing
	return true
}

// drain moves a serving slave to draining; it reports whether it did.
func (r *registry) drain(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.state != stateServing {
		return false
	}
	s.state = stateDraining
	return true
}

// lose ends a session: it leaves the registry, and its key is free for a
// new join. Losing twice is a no-op that reports false.
func (r *registry) lose(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.state == stateLost {
		return false
	}
	s.state = stateLost
	if r.sessions[s.key] == s {
		delete(r.sessions, s.key)
	}
	return true
}

// state returns s's state.
func (r *registry) state(s *session) sessionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.state
}

// linking lists the slaves that confirmed their join and are being
// connected.
func (r *registry) linking() []nodeKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []nodeKey
	for k, s := range r.sessions {
		if !k.monitor && s.state == stateLinking {
			out = append(out, k.nodeKey)
		}
	}
	return out
}

// close refuses every join and serve from now on: shutdown has begun, and
// the live sessions end with the sessions' context.
func (r *registry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
}
