package master

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/securelink"
)

// joinTable holds the slaves and monitors that were sent an ACK and are not
// connected yet, each with the token their links must present.
type joinTable struct {
	mu      sync.Mutex
	pending map[joinKey]*pendingJoin
}

// joinKey names a joining node: a slave or a monitor at (IP, UDP port).
type joinKey struct {
	SlaveKey
	monitor bool
}

type pendingJoin struct {
	token   uint64
	expires time.Time
	dialing bool
	link    *securelink.Session // the keys of its links; nil without a secret
}

func newJoinTable() *joinTable {
	return &joinTable{pending: make(map[joinKey]*pendingJoin)}
}

// take marks the pending join of k as dialing, if token and ip match it.
func (t *joinTable) take(k joinKey, token uint64, ip netip.Addr) (*pendingJoin, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[k]
	if !ok || p.dialing || p.token != token || ip.Unmap() != k.IP {
		return nil, false
	}
	p.dialing = true
	return p, true
}

// joining lists the slaves that confirmed their join and are being
// connected: links dialled, first load report awaited.
func (t *joinTable) joining() []SlaveKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []SlaveKey
	for k, p := range t.pending {
		if p.dialing && !k.monitor {
			out = append(out, k.SlaveKey)
		}
	}
	return out
}

func (t *joinTable) remove(k joinKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, k)
}

// serveDiscovery answers join requests and confirms until the socket closes.
// With a secret, a packet's MAC is checked before the master keeps anything
// about its source: strangers cannot fill the per-source tables.
func (m *Master) serveDiscovery(ctx context.Context) {
	buf := make([]byte, 2048)
	secured := m.guard.Secured()
	for {
		n, from, err := m.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				m.log.Error("discovery socket failed", "err", err)
			}
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
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
		key := SlaveKey{IP: from.Addr(), ID: from.Port()}
		switch msg := msg.(type) {
		case packets.JoinRequest:
			m.answerJoin(joinKey{key, msg.Monitor}, from, msg, nonce)
		case packets.SlaveJoinConfirm:
			jk := joinKey{key, false}
			m.confirmJoin(ctx, jk, msg.Token, msg.IP, func(ctx context.Context, token uint64, joined func()) error {
				return m.connect(withLinkSession(ctx, m.joins.linkSession(jk)), key, msg, token, joined)
			})
		case packets.MonitorJoinConfirm:
			jk := joinKey{key, true}
			m.confirmJoin(ctx, jk, msg.Token, msg.IP, func(ctx context.Context, token uint64, joined func()) error {
				return m.serveMonitor(withLinkSession(ctx, m.joins.linkSession(jk)), key, msg, token, joined)
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

// answerJoin ACKs a join request, or NAKs it: a slave already in the pool
// or a full pool; a second monitor while one is connected or joining. A
// repeated request (the ACK was lost) gets the same token again. With a
// secret, a request must come from the address it claims (a replayed or
// forwarded one is ignored, so a restarted master with an empty replay
// memory answers no stranger), and the reply names the request's nonce,
// the requester's address and the master's.
func (m *Master) answerJoin(k joinKey, from netip.AddrPort, req packets.JoinRequest, nonce uint64) {
	role := "slave"
	if k.monitor {
		role = "monitor"
	}
	secured := m.guard.Secured()
	if secured && req.From != from {
		m.metrics.handshakeDropped.WithLabelValues("wrong_source").Inc()
		if m.hs.once(from.Addr().String(), "wrong source") {
			m.log.Warning("join request ignored: it claims another sender (replayed or forwarded)", "from", from, "claims", req.From)
		}
		return
	}
	reply := m.decideJoin(k)
	reply.Monitor = k.monitor
	if secured {
		reply.Request, reply.To, reply.From = nonce, from, m.hs.answerAddr(from)
	}
	if reply.Accepted {
		m.log.Info("join request granted", role, k.SlaveKey)
	} else if m.hs.once(role+" "+k.SlaveKey.String(), reply.Reason) {
		m.log.Info("join request refused", role, k.SlaveKey, "reason", reply.Reason)
	}
	b, replyNonce := m.guard.SealNonce(reply)
	if reply.Accepted {
		m.joins.setLink(k, m.guard.LinkSession(nonce, replyNonce))
	}
	if _, err := m.udp.WriteToUDPAddrPort(b, from); err != nil {
		m.log.Warning("join reply not sent", role, k.SlaveKey, "err", err)
	}
}

func (m *Master) decideJoin(k joinKey) packets.JoinReply {
	switch {
	case !k.monitor && m.pool.contains(k.SlaveKey):
		return packets.JoinReply{Reason: "already in the pool"}
	case k.monitor && m.monitorConnected():
		return packets.JoinReply{Reason: "a monitor is already connected"}
	}
	slaves, _ := m.pool.size()
	t := m.joins
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	joiningSlaves, joiningMonitors := 0, 0
	for pk, p := range t.pending {
		switch {
		case !p.dialing && now.After(p.expires):
			delete(t.pending, pk)
		case pk.monitor:
			joiningMonitors++
		default:
			joiningSlaves++
		}
	}
	if p, ok := t.pending[k]; ok {
		if p.dialing {
			return packets.JoinReply{Reason: "already joining"}
		}
		return packets.JoinReply{Accepted: true, Token: p.token}
	}
	switch {
	case !k.monitor && slaves+joiningSlaves >= m.opts.MaxSlaves:
		return packets.JoinReply{Reason: "the pool is full"}
	case k.monitor && joiningMonitors > 0:
		return packets.JoinReply{Reason: "another monitor is joining"}
	}
	p := &pendingJoin{token: newToken(), expires: now.Add(m.opts.JoinTimeout)}
	t.pending[k] = p
	return packets.JoinReply{Accepted: true, Token: p.token}
}

// confirmJoin starts connecting a node on the first valid confirm of its
// burst; later copies, and confirms that match no ACK, are dropped. connect
// serves the node until it leaves, calling joined once it is connected.
func (m *Master) confirmJoin(ctx context.Context, k joinKey, token uint64, ip netip.Addr, connect func(ctx context.Context, token uint64, joined func()) error) {
	if _, ok := m.joins.take(k, token, ip); !ok {
		m.log.Debug("join confirm matches no pending join", "from", k.SlaveKey, "ip_in_packet", ip)
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.joins.remove(k)
		if err := connect(ctx, token, func() { m.joins.remove(k) }); err != nil {
			m.log.Warning("could not connect", "node", k.SlaveKey, "monitor", k.monitor, "err", err)
		}
	}()
}

// connect dials the slave's links, takes a first load report, and serves
// the slave until it is lost.
func (m *Master) connect(ctx context.Context, key SlaveKey, c packets.SlaveJoinConfirm, token uint64, joined func()) error {
	dctx, cancel := context.WithTimeout(ctx, m.opts.JoinTimeout)
	defer cancel()
	link, err := dialLinks(dctx, key, c, token, m.opts.PollInterval, m.opts.JoinTimeout)
	if err != nil {
		return err
	}
	loadR, loadW := bufio.NewReader(link.load), packets.NewWriter(link.load)
	first, err := link.poll(loadR, loadW, 0, m.opts.JoinTimeout)
	if err != nil {
		link.abandon()
		return err
	}
	mb := m.pool.add(key, c.MetricsPort, link, first)
	link.draining = func() {
		m.pool.drain(mb)
		m.log.Info("slave draining: no new tasks, waiting for those it holds", "slave", key)
	}
	joined()
	if !m.track(mb) {
		m.pool.remove(mb)
		link.abandon()
		return errors.New("master shutting down")
	}
	n, _ := m.pool.size()
	m.log.Info("slave joined", "slave", key, "max_load", first.MaxLoad, "load", first.Load, "pool_size", n)
	m.serveSlave(mb, loadR, loadW)
	return nil
}

// serveSlave runs the slave's link goroutines; the first failure removes it.
func (m *Master) serveSlave(mb *member, loadR *bufio.Reader, loadW *packets.Writer) {
	link := mb.link
	var wg sync.WaitGroup
	for i, loop := range []func() error{
		link.readResults,
		link.watchTasks,
		func() error { return m.pollLoad(mb, loadR, loadW) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := loop()
			if i > 0 && link.isLeaving() {
				// A drained slave closes its three links at once: the result
				// link decides, once it has delivered the last results.
				select {
				case <-link.done:
				case <-time.After(m.opts.PollTimeout):
				}
			}
			link.lose(err)
		}()
	}
	<-link.done
	m.pool.remove(mb)
	m.untrack(mb)
	wg.Wait()
	n, _ := m.pool.size()
	if cause, clean := link.cause(); clean {
		m.log.Info("slave left", "slave", mb.key, "cause", cause, "pool_size", n)
	} else {
		m.log.Warning("slave left", "slave", mb.key, "cause", cause, "pool_size", n)
	}
}

// pollLoad polls the slave's load every interval until the link is lost or
// a poll goes unanswered for PollTimeout.
func (m *Master) pollLoad(mb *member, r *bufio.Reader, w *packets.Writer) error {
	tick := time.NewTicker(m.opts.PollInterval)
	defer tick.Stop()
	for seq := uint32(1); ; seq++ {
		select {
		case <-mb.link.done:
			return errLinkLost
		case <-tick.C:
		}
		rep, err := mb.link.poll(r, w, seq, m.opts.PollTimeout)
		if err != nil {
			return err
		}
		m.pool.report(mb, rep)
		m.log.Debug("load report", "slave", mb.key, "load", rep.Load, "committed", rep.Committed, "tasks", rep.Tasks)
	}
}

func newToken() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return binary.BigEndian.Uint64(b[:])
}
