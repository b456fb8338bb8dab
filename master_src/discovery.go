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

	"github.com/lbproject/loadbalancer/common/packets"
)

// joinTable holds the slaves that were sent an ACK and are not in the pool
// yet, each with the token their links must present.
type joinTable struct {
	mu      sync.Mutex
	pending map[SlaveKey]*pendingJoin
}

type pendingJoin struct {
	token   uint64
	expires time.Time
	dialing bool
}

func newJoinTable() *joinTable {
	return &joinTable{pending: make(map[SlaveKey]*pendingJoin)}
}

// serveDiscovery answers join requests and confirms until the socket closes.
func (m *Master) serveDiscovery(ctx context.Context) {
	buf := make([]byte, 2048)
	for {
		n, from, err := m.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				m.log.Error("discovery socket failed", "err", err)
			}
			return
		}
		msg, err := packets.Decode(buf[:n])
		if err != nil {
			m.log.Debug("dropped discovery packet", "from", from, "err", err)
			continue
		}
		key := SlaveKey{IP: from.Addr().Unmap(), ID: from.Port()}
		switch msg := msg.(type) {
		case packets.SlaveJoinRequest:
			m.answerJoin(key, from)
		case packets.SlaveJoinConfirm:
			m.confirmJoin(ctx, key, msg)
		default:
			m.log.Debug("dropped discovery packet", "from", from, "type", msg.Type())
		}
	}
}

// answerJoin ACKs a join request, or NAKs it when the slave is already in
// the pool or the pool is full. A repeated request (the ACK was lost) gets
// the same token again.
func (m *Master) answerJoin(key SlaveKey, from netip.AddrPort) {
	reply := m.decideJoin(key)
	if reply.Accepted {
		m.log.Info("join request granted", "slave", key)
	} else {
		m.log.Info("join request refused", "slave", key, "reason", reply.Reason)
	}
	if _, err := m.udp.WriteToUDPAddrPort(packets.Encode(reply), from); err != nil {
		m.log.Warning("join reply not sent", "slave", key, "err", err)
	}
}

func (m *Master) decideJoin(key SlaveKey) packets.SlaveJoinReply {
	if m.pool.contains(key) {
		return packets.SlaveJoinReply{Reason: "already in the pool"}
	}
	slaves, _ := m.pool.size()
	t := m.joins
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for k, p := range t.pending {
		if !p.dialing && now.After(p.expires) {
			delete(t.pending, k)
		}
	}
	if p, ok := t.pending[key]; ok {
		if p.dialing {
			return packets.SlaveJoinReply{Reason: "already joining"}
		}
		return packets.SlaveJoinReply{Accepted: true, Token: p.token}
	}
	if slaves+len(t.pending) >= m.opts.MaxSlaves {
		return packets.SlaveJoinReply{Reason: "the pool is full"}
	}
	p := &pendingJoin{token: newToken(), expires: now.Add(m.opts.JoinTimeout)}
	t.pending[key] = p
	return packets.SlaveJoinReply{Accepted: true, Token: p.token}
}

// confirmJoin starts dialing a slave on the first valid confirm of its burst.
func (m *Master) confirmJoin(ctx context.Context, key SlaveKey, c packets.SlaveJoinConfirm) {
	t := m.joins
	t.mu.Lock()
	p, ok := t.pending[key]
	valid := ok && !p.dialing && p.token == c.Token && c.IP.Unmap() == key.IP
	if valid {
		p.dialing = true
	}
	t.mu.Unlock()
	if !valid {
		if ok && !p.dialing {
			m.log.Warning("join confirm does not match", "slave", key, "ip_in_packet", c.IP)
		}
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			t.mu.Lock()
			delete(t.pending, key)
			t.mu.Unlock()
		}()
		if err := m.connect(ctx, key, c, p.token); err != nil {
			m.log.Warning("slave could not be connected", "slave", key, "err", err)
		}
	}()
}

// connect dials the slave's links, takes a first load report, and serves
// the slave until it is lost.
func (m *Master) connect(ctx context.Context, key SlaveKey, c packets.SlaveJoinConfirm, token uint64) error {
	dctx, cancel := context.WithTimeout(ctx, m.opts.JoinTimeout)
	defer cancel()
	link, err := dialLinks(dctx, key, c, token, m.opts.PollInterval, m.opts.JoinTimeout)
	if err != nil {
		return err
	}
	loadR, loadW := bufio.NewReader(link.load), packets.NewWriter(link.load)
	first, err := link.poll(loadR, loadW, 0, m.opts.JoinTimeout)
	if err != nil {
		link.closeConns()
		return err
	}
	mb := m.pool.add(key, link, first)
	if !m.track(mb) {
		m.pool.remove(mb)
		link.closeConns()
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
	for _, loop := range []func() error{
		link.readResults,
		link.watchTasks,
		func() error { return m.pollLoad(mb, loadR, loadW) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			link.lose(loop())
		}()
	}
	<-link.done
	m.pool.remove(mb)
	m.untrack(mb)
	wg.Wait()
	n, _ := m.pool.size()
	m.log.Warning("slave left", "slave", mb.key, "cause", link.lostErr, "pool_size", n)
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
