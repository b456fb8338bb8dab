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
	"github.com/lbproject/loadbalancer/common/tasks"
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
	// leaveAcked is closed when the master answers Leaving: no task
	// request can follow, so the links may close once the tasks are done.
	leaveAcked chan struct{}
}

// acceptLinks waits for the master to open the three links.
func (s *Slave) acceptLinks(ctx context.Context, master discovery.Master) (*session, error) {
	deadline := time.Now().Add(s.opts.LinkTimeout)
	ss := &session{s: s, master: master, leaveAcked: make(chan struct{})}
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
	set, changed := ss.s.offers.current()
	if err := ss.results.Write(ss.s.offers.message(set)); err != nil { // first on the link, before any result
		ss.close()
		return fmt.Errorf("result link: %w", err)
	}
	var loops, tasks sync.WaitGroup
	for _, loop := range []func(context.Context, *sync.WaitGroup) error{ss.serveLoad, ss.serveTasks, ss.watchResults, ss.watchWriter, ss.offersAfter(changed)} {
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
	_, running := ss.s.exec.state()
	log.Info("draining: finishing tasks before leaving", "tasks", running, "timeout", ss.s.opts.DrainTimeout)
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

// serveTasks reads task requests, answers each with an ACK or NAK on the
// result link, and runs the accepted ones concurrently. A cheap task that
// finds a free worker at once is computed right here: starting a goroutine and
// waking a thread would cost more than computing it. Answers are queued and
// go out when the requests read in one go are done, in one write.
func (ss *session) serveTasks(ctx context.Context, wg *sync.WaitGroup) error {
	r := packets.NewFrameReader(ss.task, 64<<10)
	for {
		if !r.Buffered() {
			ss.results.Flush()
		}
		m, err := r.Read()
		if err != nil {
			return fmt.Errorf("task link: %w", err)
		}
		switch m := m.(type) {
		case packets.LeaveAck:
			select {
			case <-ss.leaveAcked: // a repeat: nothing more to learn
			default:
				close(ss.leaveAcked)
			}
		case packets.TaskRequest:
			if err := ss.startTask(ctx, m, wg); err != nil {
				return fmt.Errorf("result link: %w", err)
			}
		case packets.TaskInputRequest:
			if err := ss.startInputTask(ctx, m, wg); err != nil {
				return fmt.Errorf("result link: %w", err)
			}
		default:
			return fmt.Errorf("task link: unexpected %s", m.Type())
		}
	}
}

// startTask admits req and queues its ACK and, for a cheap task computed at
// once, its result; otherwise a goroutine computes it. An error means the
// result link failed.
func (ss *session) startTask(ctx context.Context, req packets.TaskRequest, wg *sync.WaitGroup) error {
	log := ss.s.opts.Log
	ss.s.metrics.requested.Inc()
	t, load, err := ss.admit(req, wg)
	if err != nil {
		ss.s.metrics.refused.Inc()
		log.Debug("refused task", "task_id", req.ID, "reason", err)
		return ss.results.Queue(packets.TaskNak{ID: req.ID, Reason: err.Error()})
	}
	if err := ss.results.Queue(packets.TaskAck{ID: req.ID}); err != nil {
		ss.s.exec.release(load)
		wg.Done()
		return err
	}
	if log.DebugEnabled() {
		log.Debug("accepted task", "task_id", req.ID, "task", t.Name, "n", req.N)
	}
	if req.N <= t.CheapMaxN && ss.s.exec.tryWorker() {
		defer wg.Done()
		body, took, err := ss.s.exec.compute(ctx, t, load, req.N)
		ss.queueResult(req.ID, body, took, err)
		return nil
	}
	go func() {
		defer wg.Done()
		body, took, err := ss.s.exec.run(ctx, t, load, req.N)
		ss.queueResult(req.ID, body, took, err)
		ss.results.Flush()
	}()
	return nil
}

// queueResult queues the result of task id, computed in took; err means the
// task was abandoned (the session is ending) and there is nothing to send.
func (ss *session) queueResult(id uint64, body string, took time.Duration, err error) {
	log := ss.s.opts.Log
	if err != nil {
		log.Debug("task abandoned", "task_id", id, "err", err)
		return
	}
	if err := ss.results.Queue(packets.TaskResult{ID: id, OK: true, ComputeMicros: uint64(took.Microseconds()), Body: body}); err != nil {
		log.Warning("result not delivered", "task_id", id, "err", err)
		return
	}
	ss.s.metrics.completed.Inc()
}

// admit reserves the task's load and counts it in wg, unless the slave is
// draining or the task does not fit.
func (ss *session) admit(req packets.TaskRequest, wg *sync.WaitGroup) (tasks.Task, uint64, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.draining {
		return tasks.Task{}, 0, errors.New("the slave is leaving")
	}
	t, load, err := ss.s.exec.admit(req)
	if err == nil {
		wg.Add(1)
	}
	return t, load, err
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
