package master

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/securelink"
)

// A slave's life with the master, all in this file:
//
//   - Join: discovery.go answers its request (registry.ack: acked) and its
//     confirm (registry.confirm: linking), then starts runSlave on the
//     master's group.
//   - Linking: runSlave dials the three links and waits for a first load
//     report, all within Options.JoinTimeout; then registry.serve (serving)
//     and the pool takes it.
//   - Serving: three loops run on the session's own group: results (NAKs,
//     results, Leaving), the task link's watch (a slave never writes there,
//     so any read ends it), and the load poll. The first loop to fail ends
//     the session.
//   - Drains (SIGTERM on the slave): it sends Leaving; leaving() marks it
//     draining (no new task), the master answers LeaveAck, the slave
//     finishes what it holds, sends the results and closes its links. The
//     result link decides the end, once it has read the last result.
//   - Killed: its links close (EOF or reset): the loop that notices fails,
//     the session ends, and every task in flight there is sent to another
//     slave (dispatch.go).
//   - Times out: a load poll unanswered for Options.PollTimeout fails the
//     poll loop: the same as killed.
//   - Lost, whatever the cause: lost() takes it out of the pool before the
//     tasks in flight hear of it (so their retries cannot pick it again),
//     the status page lists it as lost for Options.LostSlaveTTL, and its key
//     is free for a new join.
//   - Master shutdown: the sessions' context ends after the HTTP server has
//     let the requests in flight finish; every session then ends as lost.

// session is one node's time with the master, from its ACK until it is
// lost. The registry owns its state; the goroutine that runs it owns the
// rest, set before it serves and read-only after.
type session struct {
	key     peerKey
	token   uint64    // the links' hellos must carry it
	expires time.Time // while acked: when the ACK lapses
	state   sessionState
	keys    *securelink.Session // its links' keys, set while acked; nil without a secret

	m           *Master
	link        *slaveLink
	mb          *member // the slave's placement figures in the pool
	metricsPort uint16
	joinedAt    time.Time

	// What became of the tasks sent to the slave, counted by dispatch:
	// hedged counts the tasks sent to it as a hedge, cancelled the
	// TaskCancels sent to it.
	done, failed, refused, hedged, cancelled atomic.Uint64

	offersWithdrawn bool // guarded by the catalogue's lock
}

func newSession(k peerKey, token uint64, expires time.Time) *session {
	return &session{key: k, token: token, expires: expires}
}

var errShuttingDown = errors.New("master shutting down")

// runSlave connects a slave that confirmed its join and serves it until it
// is lost. ctx is the sessions' context: it ends at shutdown.
func (s *session) runSlave(ctx context.Context, c packets.SlaveJoinConfirm) error {
	m := s.m
	defer m.reg.lose(s) // a session that never served leaves the registry here
	dctx, cancel := context.WithTimeout(ctx, m.opts.JoinTimeout)
	defer cancel()
	link, err := dialLinks(dctx, s.key.nodeKey, c, s.token, s.keys, m.opts.PollInterval, m.opts.JoinTimeout, s)
	if err != nil {
		return err
	}
	loadR, loadW := bufio.NewReader(link.load), packets.NewWriter(link.load)
	first, err := link.poll(loadR, loadW, 0, m.opts.JoinTimeout)
	if err != nil {
		link.abandon()
		return err
	}
	s.link, s.metricsPort, s.joinedAt = link, c.MetricsPort, time.Now()
	if !s.enterPool(first) {
		link.abandon()
		return errShuttingDown
	}
	n, _ := m.pool.size()
	m.log.Info("slave joined", "slave", s.key.nodeKey, "max_load", first.MaxLoad, "load", first.Load, "pool_size", n)
	cause, clean := lossCause(s.serveLinks(ctx, loadR, loadW), s.link.isLeaving())
	n, _ = m.pool.size()
	if clean {
		m.log.Info("slave left", "slave", s.key.nodeKey, "cause", cause, "pool_size", n)
	} else {
		m.log.Warning("slave left", "slave", s.key.nodeKey, "cause", cause, "pool_size", n)
	}
	return nil
}

// enterPool moves the session from linking to serving, and the pool takes
// the slave with the figures of its first report. It fails once shutdown
// began.
func (s *session) enterPool(first packets.LoadReport) bool {
	s.mb = newMember(s, first)
	if !s.m.reg.serve(s) {
		return false
	}
	s.m.catalog.offer(s, defaultOffer) // as newMember set them, until its TaskOffer comes
	s.m.history.joined(s, first)
	s.m.pool.add(s.mb)
	return true
}

// serveLinks runs the slave's link loops on the session's own group until
// the first fails (or ctx ends), and returns why the session ended.
func (s *session) serveLinks(ctx context.Context, loadR *bufio.Reader, loadW *packets.Writer) error {
	link := s.link
	var loops sync.WaitGroup
	for i, loop := range []func() error{
		func() error { return link.readResults(&loops) },
		link.watchTasks,
		func() error { return s.pollLoad(loadR, loadW) },
		func() error { return link.watchWriter(ctx) },
	} {
		loops.Go(func() {
			err := loop()
			if (i == 1 || i == 2) && link.isLeaving() {
				// A drained slave closes its three links at once, and a
				// draining one may answer polls late (its host busy
				// finishing tasks): the result link decides, once it has
				// delivered the last results. Each task the slave holds
				// ends within the task timeout anyway, so waiting longer
				// would serve nothing.
				select {
				case <-link.done:
				case <-time.After(s.m.opts.TaskTimeout + s.m.opts.PollTimeout):
				}
			}
			link.lose(err)
		})
	}
	<-link.done
	loops.Wait()
	return link.cause()
}

// pollLoad polls the slave's load every interval until the link is lost or
// a poll goes unanswered for PollTimeout.
func (s *session) pollLoad(r *bufio.Reader, w *packets.Writer) error {
	m := s.m
	tick := time.NewTicker(m.opts.PollInterval)
	defer tick.Stop()
	for seq := uint32(1); ; seq++ {
		select {
		case <-s.link.done:
			return errLinkLost
		case <-tick.C:
		}
		rep, err := s.link.poll(r, w, seq, m.opts.PollTimeout)
		if err != nil {
			return err
		}
		s.reported(rep)
		m.log.Debug("load report", "slave", s.key.nodeKey, "load", rep.Load, "committed", rep.Committed, "tasks", rep.Tasks)
	}
}

// reported records a load report.
func (s *session) reported(rep packets.LoadReport) {
	if s.m.pool.report(s.mb, rep, time.Now()) {
		s.m.log.Info("slave returned from ejection", "slave", s.key.nodeKey)
	}
	s.m.history.reported(s, rep)
}

// The link's events (linkEvents), each on the goroutine that noticed it.

// finished returns the load of a task the slave answered, and records its
// round trip and computing time when it produced a result.
func (s *session) finished(task uint8, load uint64, rtt, compute time.Duration, result bool) {
	s.m.pool.finished(s.mb, task, load, rtt, compute, result)
}

// offered records the tasks the slave offers now.
func (s *session) offered(o packets.TaskOffer) {
	set, refused := s.m.catalog.offer(s, o.Tasks)
	s.m.pool.setOffers(s.mb, set)
	if len(refused) > 0 {
		s.m.log.Warning("slave's offer partly refused", "slave", s.key.nodeKey, "refused", strings.Join(refused, "; "))
	}
}

// leaving marks a slave that said it is leaving as draining: it offers
// nothing any more.
func (s *session) leaving() {
	if s.m.reg.drain(s) {
		s.m.catalog.withdraw(s)
		s.m.pool.drain(s.mb)
		s.m.log.Info("slave draining: no new tasks, waiting for those it holds", "slave", s.key.nodeKey)
	}
}

// lost lists the slave as lost and takes it out of the pool; the link calls
// it once, before failing the tasks in flight. The history records it
// before the pool lets it go, which keeps it on the status page exactly
// once (see history.listed).
func (s *session) lost(cause error) {
	if !s.m.reg.lose(s) || s.mb == nil {
		return
	}
	now := time.Now()
	why, _ := lossCause(cause, s.link != nil && s.link.isLeaving())
	s.m.history.lost(s, s.m.slaveStatus(s, now, s.m.opts.LoadHistory), why, now)
	s.m.pool.remove(s.mb)
	s.m.catalog.withdraw(s)
}

var _ linkEvents = (*session)(nil)
