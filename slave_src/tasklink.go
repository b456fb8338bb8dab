package slave

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// errCancelled is the cause of a task's context ended by the master's
// TaskCancel, as opposed to the session ending.
var errCancelled = errors.New("cancelled by the master")

// serveTasks reads the task link: task requests, each answered with an ACK
// or NAK on the result link, cancels, and the LeaveAck. Answers are queued
// and go out when the frames read in one go are done, in one write.
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
			err = ss.accept(ctx, m.ID, func() (job, error) { return ss.s.exec.admitBuiltin(m) }, wg)
		case packets.TaskInputRequest:
			err = ss.accept(ctx, m.ID, func() (job, error) { return ss.admitInput(m) }, wg)
		case packets.TaskCancel:
			ss.cancel(m.ID)
		default:
			return fmt.Errorf("task link: unexpected %s", m.Type())
		}
		if err != nil {
			return fmt.Errorf("result link: %w", err)
		}
	}
}

// accept admits task id with admit, queues its ACK and runs it: a cheap job
// right here (computing it costs less than handing it over, and no heavy
// task can hold it up), any other on a goroutine of its own, which a
// TaskCancel stops. An error means the result link failed.
func (ss *session) accept(ctx context.Context, id uint64, admit func() (job, error), wg *sync.WaitGroup) error {
	ss.s.metrics.requested.Inc()
	j, jobCtx, err := ss.admit(ctx, id, admit, wg)
	if err != nil {
		return ss.refuse(id, err)
	}
	if err := ss.results.Queue(packets.TaskAck{ID: id}); err != nil {
		ss.forget(id)
		ss.s.exec.release(j.load)
		wg.Done()
		return err
	}
	if log := ss.s.opts.Log; log.DebugEnabled() {
		log.Debug("accepted task", "task_id", id, "task", j.name, "cheap", j.cheap)
	}
	if j.cheap {
		defer wg.Done()
		body, took, err := ss.s.exec.run(jobCtx, j)
		ss.answer(jobCtx, id, body, took, err)
		return nil
	}
	go func() {
		defer wg.Done()
		yieldToOthers()
		body, took, err := ss.s.exec.run(jobCtx, j)
		ss.answer(jobCtx, id, body, took, err)
		ss.results.Flush()
	}()
	return nil
}

// refuse queues the NAK of task id.
func (ss *session) refuse(id uint64, reason error) error {
	ss.s.metrics.refused.Inc()
	ss.s.opts.Log.Debug("refused task", "task_id", id, "reason", reason)
	return ss.results.Queue(packets.TaskNak{ID: id, Reason: reason.Error()})
}

// admit reserves the job's load and counts it in wg, unless the slave is
// draining, id is running already or the job does not fit. A job off the
// cheap lane gets a context of its own, which cancel ends.
func (ss *session) admit(ctx context.Context, id uint64, admit func() (job, error), wg *sync.WaitGroup) (job, context.Context, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.draining {
		return job{}, nil, errors.New("the slave is leaving")
	}
	if _, dup := ss.running[id]; dup {
		return job{}, nil, fmt.Errorf("task %d is running already", id)
	}
	j, err := admit()
	if err != nil {
		return job{}, nil, err
	}
	wg.Add(1)
	if j.cheap { // computed before the next frame is read: no cancel can reach it
		return j, ctx, nil
	}
	jobCtx, stop := context.WithCancelCause(ctx)
	ss.running[id] = stop
	return j, jobCtx, nil
}

// cancel stops task id: a job waiting for a worker is dropped at once, one
// computing stops at its next look at its context. An id that is not
// running (unknown, or answered already) is ignored.
func (ss *session) cancel(id uint64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if stop, ok := ss.running[id]; ok {
		stop(errCancelled)
	}
}

// forget removes task id from those a cancel reaches.
func (ss *session) forget(id uint64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if stop, ok := ss.running[id]; ok {
		stop(nil) // frees the context's resources
		delete(ss.running, id)
	}
}

// answer queues the one last message of task id, run under ctx: its result,
// or TaskCancelled when a cancel stopped it first. Nothing goes out for a
// task abandoned because the session is ending.
func (ss *session) answer(ctx context.Context, id uint64, body string, took time.Duration, err error) {
	log := ss.s.opts.Log
	var msg packets.Message
	switch {
	case err == nil:
		msg = packets.TaskResult{ID: id, OK: true, ComputeMicros: uint64(took.Microseconds()), Body: body}
	case errors.Is(context.Cause(ctx), errCancelled):
		msg = packets.TaskCancelled{ID: id}
	case ctx.Err() != nil:
		log.Debug("task abandoned", "task_id", id, "err", err)
	default:
		msg = packets.TaskResult{ID: id, ComputeMicros: uint64(took.Microseconds()), Body: err.Error()}
	}
	ss.forget(id) // decided: a cancel from here on finds nothing to stop
	if msg == nil {
		return
	}
	if err := ss.results.Queue(msg); err != nil {
		log.Warning("answer not delivered", "task_id", id, "err", err)
		return
	}
	switch msg.(type) {
	case packets.TaskCancelled:
		ss.s.metrics.cancelled.Inc()
		log.Debug("task cancelled", "task_id", id)
	default:
		ss.s.metrics.completed.Inc()
	}
}
