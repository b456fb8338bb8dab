package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/securelink"
)

// outcome is what became of a task sent to a slave.
type outcome int

const (
	outcomeNak       outcome = iota // the slave refused it
	outcomeResult                   // the slave returned a result
	outcomeLost                     // the slave was lost before answering
	outcomeCancelled                // the slave stopped or dropped it on a cancel
)

type event struct {
	kind   outcome
	reason string // NAK reason or loss cause
	result packets.TaskResult
}

// call is a task sent on a link and not yet finished. Its events channel
// holds the final outcome, so the reader never blocks on a requester that
// has gone away. A cancelled call stays until the slave answers (its
// TaskCancelled or a late result): until then its load is still the
// slave's.
type call struct {
	task      uint8
	load      uint64
	sentAt    time.Time
	events    chan event
	cancelled bool // a TaskCancel went out for it; guarded by the link's mu
}

// linkEvents is what a link tells its session, each on the goroutine that
// noticed it.
type linkEvents interface {
	// finished: the slave answered a task (a result, or a NAK or a loss when
	// result is false) and its load is free; rtt is from the send to the
	// answer, compute the slave's computing time for a result.
	finished(task uint8, load uint64, rtt, compute time.Duration, result bool)
	// offered: the slave said which tasks it offers.
	offered(packets.TaskOffer)
	// leaving: the slave said it is draining.
	leaving()
	// lost: the link failed; called once, before the calls in flight hear
	// of it.
	lost(cause error)
}

// slaveLink is the master's end of the three TCP links to one slave: it
// frames the tasks out and the answers in, and keeps the calls in flight.
type slaveLink struct {
	key                nodeKey
	load, task, result net.Conn
	tasks              *packets.BatchWriter
	events             linkEvents

	mu      sync.Mutex
	calls   map[uint64]*call
	leaving bool  // the slave is draining and was sent LeaveAck
	lostErr error // set once, when the link is lost
	done    chan struct{}
}

// dialLinks opens the three links to a slave that confirmed its join and
// greets each with the join token; with a secret (keys) each link is
// encrypted from its first byte.
func dialLinks(ctx context.Context, key nodeKey, c packets.SlaveJoinConfirm, token uint64, keys *securelink.Session, poll, timeout time.Duration, events linkEvents) (*slaveLink, error) {
	l := &slaveLink{key: key, events: events, calls: make(map[uint64]*call), done: make(chan struct{})}
	d := net.Dialer{Timeout: timeout}
	for _, x := range []struct {
		kind packets.Link
		port uint16
		conn *net.Conn
	}{
		{packets.LinkLoad, c.LoadPort, &l.load},
		{packets.LinkTask, c.TaskPort, &l.task},
		{packets.LinkResult, c.ResultPort, &l.result},
	} {
		conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(key.IP, x.port).String())
		if err != nil {
			l.closeConns()
			return nil, fmt.Errorf("dialing %s link: %w", x.kind, err)
		}
		conn = keys.Master(conn, x.kind)
		*x.conn = conn
		hello := packets.LinkHello{Token: token, Link: x.kind, PollIntervalMillis: uint32(poll / time.Millisecond)}
		if err := packets.NewWriter(conn).Write(hello); err != nil {
			l.closeConns()
			return nil, fmt.Errorf("greeting %s link: %w", x.kind, err)
		}
	}
	l.tasks = packets.NewBatchWriter(l.task)
	return l, nil
}

// abandon closes a link that never served.
func (l *slaveLink) abandon() {
	l.closeConns()
	l.tasks.Close()
}

func (l *slaveLink) closeConns() {
	for _, c := range []net.Conn{l.load, l.task, l.result} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// lose ends the link: the session hears first (the slave leaves the pool,
// so the retries of its tasks cannot pick it again), then the links close
// and every call in flight fails. The first cause wins.
func (l *slaveLink) lose(cause error) {
	l.mu.Lock()
	if l.lostErr != nil {
		l.mu.Unlock()
		return
	}
	l.lostErr = cause
	calls := l.calls
	l.calls = nil
	close(l.done)
	l.mu.Unlock()
	l.events.lost(cause)
	l.closeConns()
	l.tasks.Close()
	for _, c := range calls {
		l.events.finished(c.task, c.load, 0, 0, false)
		c.events <- event{kind: outcomeLost, reason: cause.Error()}
	}
}

var errLinkLost = errors.New("slave link lost")

// cause says why the link was lost; nil while it is up.
func (l *slaveLink) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// send registers call id, a task of catalogue index task, and writes its
// request req on the task link.
func (l *slaveLink) send(id uint64, task uint8, req packets.Message, load uint64) (*call, error) {
	c := &call{task: task, load: load, sentAt: time.Now(), events: make(chan event, 1)}
	l.mu.Lock()
	if l.lostErr != nil || l.leaving {
		l.mu.Unlock()
		return nil, errLinkLost
	}
	l.calls[id] = c
	alone := len(l.calls) == 1
	// Queued under the lock, so no request can follow the LeaveAck; written
	// after it, so the result reader never waits for the network.
	err := l.tasks.Queue(req)
	l.mu.Unlock()
	if err != nil {
		l.lose(fmt.Errorf("writing task: %w", err))
		return c, nil // lose delivered outcomeLost to c
	}
	// A call alone on its link writes at once: with no other request in
	// flight to this slave, yielding for company only delays the one there
	// is (measured one request at a time, 2 cores: 4-6% more throughput).
	if alone {
		l.tasks.Flush()
	} else {
		l.tasks.YieldAndFlush()
	}
	return c, nil
}

// cancel asks the slave to stop task id, sent on this link and not yet
// answered, and reports whether the TaskCancel went out. A draining slave is
// sent none: it said it has every request, and finishes them anyway.
func (l *slaveLink) cancel(id uint64) bool {
	l.mu.Lock()
	c := l.calls[id]
	if c == nil || c.cancelled || l.leaving || l.lostErr != nil {
		l.mu.Unlock()
		return false
	}
	c.cancelled = true
	err := l.tasks.Queue(packets.TaskCancel{ID: id})
	l.mu.Unlock()
	if err != nil {
		l.lose(fmt.Errorf("writing task cancel: %w", err))
		return false
	}
	l.tasks.YieldAndFlush()
	return true
}

// isLeaving reports whether the slave said it is leaving.
func (l *slaveLink) isLeaving() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leaving
}

// acknowledgeLeave answers a draining slave's Leaving: from now on send
// refuses, and the LeaveAck tells the slave that every request has reached
// it, so it closes only when nothing more can come.
func (l *slaveLink) acknowledgeLeave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leaving || l.lostErr != nil {
		return
	}
	l.leaving = true
	_ = l.tasks.Queue(packets.LeaveAck{}) // a failed link is noticed by watchWriter
}

// finish removes call id and returns it, or nil for an unknown id (a late
// answer to a task already given up on).
func (l *slaveLink) finish(id uint64) *call {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls[id]
	delete(l.calls, id)
	return c
}

// readResults delivers NAKs and results until the link fails. An ACK only
// says the result will follow: the requester waits for that anyway, and
// waking it for nothing would cost a thread switch per task. The flush of a
// LeaveAck runs on group, the session's loops.
func (l *slaveLink) readResults(group *sync.WaitGroup) error {
	r := packets.NewFrameReader(l.result, 64<<10)
	for {
		m, err := r.Read()
		if err != nil {
			return fmt.Errorf("result link: %w", err)
		}
		switch m := m.(type) {
		case packets.TaskAck:
		case packets.TaskNak:
			if c := l.finish(m.ID); c != nil {
				l.events.finished(c.task, c.load, time.Since(c.sentAt), 0, false)
				c.events <- event{kind: outcomeNak, reason: m.Reason}
			}
		case packets.TaskCancelled:
			if c := l.finish(m.ID); c != nil {
				l.events.finished(c.task, c.load, time.Since(c.sentAt), 0, false)
				c.events <- event{kind: outcomeCancelled}
			}
		case packets.TaskResult:
			if c := l.finish(m.ID); c != nil {
				l.events.finished(c.task, c.load, time.Since(c.sentAt), time.Duration(m.ComputeMicros)*time.Microsecond, true)
				c.events <- event{kind: outcomeResult, result: m}
			}
		case packets.TaskOffer:
			l.events.offered(m)
		case packets.Leaving:
			l.events.leaving()
			l.acknowledgeLeave()
			// Not on this goroutine: if the task link is full, writing here
			// would stop the reading of results the slave waits to send.
			group.Go(l.tasks.Flush)
		default:
			return fmt.Errorf("result link: unexpected %s", m.Type())
		}
	}
}

// watchTasks notices the slave closing the task link; slaves never write on it.
func (l *slaveLink) watchTasks() error {
	var b [1]byte
	_, err := l.task.Read(b[:])
	if err == nil {
		err = errors.New("unexpected bytes from slave")
	}
	return fmt.Errorf("task link: %w", err)
}

// watchWriter ends the link when writing tasks fails, or when ctx ends.
func (l *slaveLink) watchWriter(ctx context.Context) error {
	select {
	case <-l.tasks.Failed():
		return fmt.Errorf("writing tasks: %w", l.tasks.Err())
	case <-ctx.Done():
		return errShuttingDown
	case <-l.done:
		return errLinkLost
	}
}

// poll asks for a load report and waits for it until timeout.
func (l *slaveLink) poll(r *bufio.Reader, w *packets.Writer, seq uint32, timeout time.Duration) (packets.LoadReport, error) {
	if err := l.load.SetDeadline(time.Now().Add(timeout)); err != nil {
		return packets.LoadReport{}, err
	}
	if err := w.Write(packets.LoadRequest{Seq: seq}); err != nil {
		return packets.LoadReport{}, fmt.Errorf("load link: %w", err)
	}
	for {
		m, err := packets.ReadFrame(r)
		if err != nil {
			return packets.LoadReport{}, fmt.Errorf("load link: %w", err)
		}
		rep, ok := m.(packets.LoadReport)
		if !ok {
			return packets.LoadReport{}, fmt.Errorf("load link: unexpected %s", m.Type())
		}
		if rep.Seq == seq {
			return rep, nil
		}
		// an answer to an earlier poll that came late: keep reading
	}
}
