package slave

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/packets"
)

// session is the slave's time with one master: three links, served until
// one of them fails or the master falls silent.
type session struct {
	s      *Slave
	master discovery.Master
	poll   time.Duration

	load, task, result net.Conn
	results            *packets.BatchWriter

	mu       sync.Mutex
	draining bool
	// running holds, by id, what stops each task a TaskCancel may still
	// reach: admitted off the cheap lane and not yet answered.
	running map[uint64]context.CancelCauseFunc
	// leaveAcked is closed when the master answers Leaving: no task
	// request can follow, so the links may close once the tasks are done.
	leaveAcked chan struct{}
}

// acceptLinks waits for the master to open the three links.
func (s *Slave) acceptLinks(ctx context.Context, master discovery.Master) (*session, error) {
	deadline := time.Now().Add(s.opts.LinkTimeout)
	ss := &session{s: s, master: master, leaveAcked: make(chan struct{}), running: map[uint64]context.CancelCauseFunc{}}
	for _, l := range []struct {
		kind packets.Link
		ln   *net.TCPListener
		conn *net.Conn
	}{
		{packets.LinkLoad, s.loadLn, &ss.load},
		{packets.LinkTask, s.taskLn, &ss.task},
		{packets.LinkResult, s.resultLn, &ss.result},
	} {
		c, hello, err := discovery.AcceptLink(ctx, l.ln, l.kind, master, deadline, s.opts.Log)
		if err != nil {
			ss.close()
			return nil, fmt.Errorf("%s link: %w", l.kind, err)
		}
		*l.conn = c
		ss.poll = time.Duration(hello.PollIntervalMillis) * time.Millisecond
	}
	ss.results = packets.NewBatchWriter(ss.result)
	return ss, nil
}

// errLeft ends a session the slave drained and left.
var errLeft = errors.New("slave left the master")

// serve runs the three links until one fails or the master falls silent
// (the session ends at once and its tasks are abandoned: the master gives
// them to another slave), or until ctx ends: then the slave drains. It tells
// the master it is leaving, refuses new tasks, finishes those it holds (for
// at most DrainTimeout), and only then closes the links.
func (ss *session) serve(ctx context.Context) error {
	hard, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var loops, tasks sync.WaitGroup
	for _, loop := range []func(context.Context, *sync.WaitGroup) error{ss.serveLoad, ss.serveTasks, ss.watchResults, ss.watchWriter} {
		loops.Add(1)
		go func() {
			defer loops.Done()
			cancel(loop(hard, &tasks))
		}()
	}
	select {
	case <-hard.Done():
	case <-ctx.Done():
		ss.drain(hard, &tasks)
		ss.results.Close() // the results of the drained tasks go out before the links close
		cancel(errLeft)
	}
	ss.close()
	loops.Wait()
	tasks.Wait()
	ss.results.Close()
	return context.Cause(hard)
}

// drain announces the departure and waits for the session's tasks.
func (ss *session) drain(hard context.Context, tasks *sync.WaitGroup) {
	log := ss.s.opts.Log
	ss.mu.Lock()
	ss.draining = true // from here on serveTasks refuses, and adds no task
	ss.mu.Unlock()
	if err := ss.results.Write(packets.Leaving{}); err != nil {
		log.Warning("could not tell the master we are leaving", "err", err)
		return
	}
	log.Info("draining: finishing tasks before leaving", "tasks", ss.s.exec.stats().admitted, "timeout", ss.s.opts.DrainTimeout)
	done := make(chan struct{})
	go func() {
		tasks.Wait()
		select { // until the master's LeaveAck a request may still be on its way: it gets its NAK
		case <-ss.leaveAcked:
		case <-hard.Done():
		}
		close(done)
	}()
	timer := time.NewTimer(ss.s.opts.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
		log.Info("drained")
	case <-timer.C:
		log.Warning("drain timed out: abandoning the tasks still running", "timeout", ss.s.opts.DrainTimeout)
	case <-hard.Done():
		log.Warning("link lost while draining", "err", context.Cause(hard))
	}
}

func (ss *session) close() {
	for _, c := range []net.Conn{ss.load, ss.task, ss.result} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// serveLoad answers load polls at once. A master silent for MissedPolls
// intervals is taken as gone.
func (ss *session) serveLoad(ctx context.Context, _ *sync.WaitGroup) error {
	r := bufio.NewReader(ss.load)
	w := packets.NewWriter(ss.load)
	silence := time.Duration(ss.s.opts.MissedPolls)*ss.poll + time.Second
	for {
		if err := ss.load.SetReadDeadline(time.Now().Add(silence)); err != nil {
			return err
		}
		m, err := packets.ReadFrame(r)
		if err != nil {
			return fmt.Errorf("load link: %w", err)
		}
		req, ok := m.(packets.LoadRequest)
		if !ok {
			return fmt.Errorf("load link: unexpected %s", m.Type())
		}
		if err := w.Write(ss.s.report(req.Seq)); err != nil {
			return fmt.Errorf("load link: %w", err)
		}
	}
}

// watchResults notices the master closing the result link; the master never
// writes on it.
// watchWriter ends the session when writing results fails: they would be
// dropped while the master still counts on them.
func (ss *session) watchWriter(hard context.Context, _ *sync.WaitGroup) error {
	select {
	case <-ss.results.Failed():
		return fmt.Errorf("writing results: %w", ss.results.Err())
	case <-hard.Done():
		return nil
	}
}

func (ss *session) watchResults(_ context.Context, _ *sync.WaitGroup) error {
	var b [1]byte
	_, err := ss.result.Read(b[:])
	if err == nil {
		err = errors.New("unexpected bytes from master")
	}
	return fmt.Errorf("result link: %w", err)
}
