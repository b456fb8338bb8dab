package master

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/master_src/balance"
)

// taskOutcome is a finished task.
type taskOutcome struct {
	TaskID   uint64
	Value    string
	Slave    nodeKey
	Duration time.Duration // from the request's arrival to the result
	Compute  time.Duration // the slave's computing time
}

var (
	errTaskTimeout = errors.New("no result in time")
	errTaskFailed  = errors.New("task failed")
)

// runTask places job j on a slave and waits for its result.
// A refusal sends it to another slave; a slave lost under it sends it to
// another, up to MaxAttempts slaves. It fails with errNoCapacity or
// errQueueFull (no slave had room in time), errTaskTimeout, errTaskFailed,
// or ctx's error. Every task it numbers is listed by /api/tasks.
func (m *Master) runTask(ctx context.Context, j job) (taskOutcome, error) {
	start := time.Now()
	res, err := m.submit(ctx, j, start)
	rec := taskRecord{id: res.TaskID, task: j.name, n: j.n, slave: res.Slave, start: start,
		took: res.Duration, status: taskStatusOf(err)}
	if err != nil {
		rec.took, rec.err = time.Since(start), err.Error()
	}
	m.stats.finished(rec, res.Value)
	return res, err
}

func (m *Master) submit(ctx context.Context, j job, start time.Time) (taskOutcome, error) {
	r := &taskRun{m: m, j: j, id: m.taskSeq.Add(1)}
	defer r.cancelAll()
	// One timer serves the newest try's per-try timeout and the task
	// timeout, whichever comes first: no context and timer of its own per
	// request for the task timeout (on the hot path, they were a fifth of
	// the master's allocations).
	timer := timerPool.Get().(*time.Timer)
	defer func() { timer.Stop(); timerPool.Put(timer) }()
	waitUntil := start.Add(m.opts.QueueWait)
	var taskDeadline time.Time // zero until the first dispatch
	for {
		if len(r.tries) == 0 {
			mb, err := m.pool.acquire(ctx, j.index, j.load, &r.skip, waitUntil)
			if err != nil {
				if ctx.Err() == nil && !taskDeadline.IsZero() && !time.Now().Before(taskDeadline) {
					err = errTaskTimeout
				}
				return taskOutcome{TaskID: r.id}, err
			}
			if taskDeadline.IsZero() {
				// From the first dispatch on, the task timeout bounds
				// everything, re-dispatches and hedges included.
				taskDeadline = time.Now().Add(j.timeout)
				waitUntil = taskDeadline
			}
			if !r.start(mb) {
				continue
			}
			r.arm(timer, taskDeadline)
		}
		var ev event
		var i int
		select {
		case ev = <-r.events(0):
		case ev = <-r.events(1):
			i = 1
		case <-timer.C:
			if time.Now().Before(taskDeadline) {
				r.tryTimedOut()
				r.arm(timer, taskDeadline)
				continue
			}
			for _, a := range r.tries {
				r.timedOutOn(a)
			}
			m.log.Warning("task timed out", "task_id", r.id, "slave", r.tries[0].mb.s.key.nodeKey, "after", time.Since(start))
			return taskOutcome{TaskID: r.id, Slave: r.tries[0].mb.s.key.nodeKey}, errTaskTimeout
		case <-ctx.Done():
			return taskOutcome{TaskID: r.id}, ctx.Err()
		}
		if out, done, err := r.settle(i, ev, start); done {
			return out, err
		}
	}
}

// timerPool holds stopped timers for submit. Since Go 1.23 a stopped or
// reset timer delivers no stale tick, so a timer is safe to reuse.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// taskRun is one task's way through the pool: its tries in flight (the
// first, and at most one hedge), the slaves that refused it, and how many
// were lost under it. submit's goroutine owns it.
type taskRun struct {
	m      *Master
	j      job
	id     uint64     // the user-visible task ID
	tries  []*attempt // in flight, oldest first; at most 2
	skip   []balance.Slave
	lost   int  // slaves lost under the task
	hedged bool // a hedge was sent: no second one
}

// attempt is one try of the task on one slave, its load reserved there.
type attempt struct {
	mb       *member
	wireID   uint64
	c        *call
	sentAt   time.Time
	timedOut bool // counted against its slave already
}

// arm sets timer for the newest try's per-try timeout, or for the task
// deadline if that comes first or the newest try has timed out already (a
// try that may take the whole task timeout has no timeout of its own).
func (r *taskRun) arm(timer *time.Timer, deadline time.Time) {
	d := time.Until(deadline)
	if !r.tries[len(r.tries)-1].timedOut {
		d = min(d, r.m.tryTimes.timeout(r.j.index, r.j.load, r.j.timeout))
	}
	timer.Reset(max(d, 0))
}

// events is try i's outcome channel, nil (never ready) if there is none.
func (r *taskRun) events(i int) chan event {
	if i < len(r.tries) {
		return r.tries[i].c.events
	}
	return nil
}

// start sends the task to mb, whose load is reserved, as a new try. A link
// lost before the task went out is like a refusal: it costs no attempt.
func (r *taskRun) start(mb *member) bool {
	m := r.m
	if m.log.DebugEnabled() {
		m.log.Debug("assigned task", "task_id", r.id, "task", r.j, "slave", mb.s.key.nodeKey)
	}
	id := m.wireSeq.Add(1)
	c, err := mb.s.link.send(id, r.j.index, r.j.request(id), r.j.load)
	if err != nil {
		m.pool.release(mb, r.j.load)
		r.skip = append(r.skip, mb)
		return false
	}
	r.tries = append(r.tries, &attempt{mb: mb, wireID: id, c: c, sentAt: time.Now()})
	return true
}

// tryTimedOut handles the newest try passing its per-try timeout: it counts
// against that slave, and the task is also sent to another slave with room
// now, unless it was hedged already.
func (r *taskRun) tryTimedOut() {
	last := r.tries[len(r.tries)-1]
	r.timedOutOn(last)
	if r.hedged {
		return
	}
	skip := r.skip
	for _, a := range r.tries {
		skip = append(skip, a.mb)
	}
	mb := r.m.pool.tryAcquire(r.j.index, r.j.load, skip)
	if mb == nil || !r.start(mb) {
		return
	}
	r.hedged = true
	mb.s.hedged.Add(1)
	r.m.counts.hedged.Add(1)
	r.m.log.Debug("task hedged", "task_id", r.id, "slow_slave", last.mb.s.key.nodeKey, "slave", mb.s.key.nodeKey)
}

// timedOutOn counts a try that passed its per-try timeout against its
// slave, once.
func (r *taskRun) timedOutOn(a *attempt) {
	if !a.timedOut {
		a.timedOut = true
		r.failedOn(a.mb, a.sentAt)
	}
}

// failedOn counts a try on mb that failed (sentAt zero) or timed out, and
// logs the slave's ejection if that ejects it.
func (r *taskRun) failedOn(mb *member, sentAt time.Time) {
	if d := r.m.pool.tryFailed(mb, sentAt, time.Now()); d > 0 {
		r.m.counts.ejections.Add(1)
		r.m.log.Info("slave ejected: its tries timed out or failed in a row", "slave", mb.s.key.nodeKey, "for", d)
	}
}

// settle handles try i's outcome. done says the task is over, with out and
// err; else the task goes on (another try is in flight, or one is needed).
func (r *taskRun) settle(i int, ev event, start time.Time) (out taskOutcome, done bool, err error) {
	m, a := r.m, r.tries[i]
	r.tries = append(r.tries[:i], r.tries[i+1:]...)
	key := a.mb.s.key.nodeKey
	switch {
	case ev.kind == outcomeResult && ev.result.OK:
		a.mb.s.done.Add(1)
		m.pool.tryAnswered(a.mb)
		m.tryTimes.observe(r.j.index, time.Since(a.sentAt), r.j.load)
		return taskOutcome{TaskID: r.id, Value: ev.result.Body, Slave: key, Duration: time.Since(start),
			Compute: time.Duration(ev.result.ComputeMicros) * time.Microsecond}, true, nil
	case ev.kind == outcomeResult:
		a.mb.s.failed.Add(1)
		if r.j.builtin {
			r.failedOn(a.mb, time.Time{})
		} else {
			// An operator's task fails by its program's verdict on the
			// input (or its own time limit): the slave answered, so it is
			// healthy. Counting it would let anyone eject every slave
			// offering a task by sending it bad input three times.
			m.pool.tryAnswered(a.mb)
		}
		m.log.Warning("task failed on slave", "task_id", r.id, "slave", key, "err", ev.result.Body)
		return taskOutcome{TaskID: r.id, Slave: key}, true, fmt.Errorf("%w on %s: %s", errTaskFailed, key, ev.result.Body)
	case ev.kind == outcomeLost:
		r.lost++
		m.log.Warning("slave lost with task", "task_id", r.id, "slave", key, "cause", ev.reason)
		if len(r.tries) > 0 {
			return out, false, nil // the hedge goes on
		}
		if r.lost >= m.opts.MaxAttempts {
			m.log.Error("task given up", "task_id", r.id, "task", r.j, "attempts", r.lost)
			return taskOutcome{TaskID: r.id}, true, fmt.Errorf("%w: %d slaves were lost while running it", errTaskFailed, r.lost)
		}
		m.metrics.redispatched.Inc()
	default: // a refusal, or a cancel the slave decided on: try elsewhere
		a.mb.s.refused.Add(1)
		r.skip = append(r.skip, a.mb)
		m.log.Debug("slave refused task", "task_id", r.id, "slave", key, "reason", ev.reason)
	}
	return out, false, nil
}

// cancelAll cancels every try still in flight (the task is over: its client
// left, it timed out, or another try won). Each keeps its slave's load until
// the slave answers.
func (r *taskRun) cancelAll() {
	for _, a := range r.tries {
		if a.mb.s.link.cancel(a.wireID) {
			a.mb.s.cancelled.Add(1)
			r.m.counts.cancelled.Add(1)
		}
	}
	r.tries = nil
}
