package master

import (
	"context"
	"errors"
	"fmt"
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
	id := m.taskSeq.Add(1)
	load := j.load
	var skip []balance.Slave
	queueDeadline := start.Add(m.opts.QueueWait)
	taskCtx := ctx
	dispatched := false
	attempts := 0 // slaves lost under the task
	for {
		mb, err := m.pool.acquire(taskCtx, j.index, load, &skip, queueDeadline)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = errTaskTimeout
			}
			return taskOutcome{TaskID: id}, err
		}
		if !dispatched {
			// From the first dispatch on, the task timeout bounds everything,
			// re-dispatches included.
			dispatched = true
			var cancel context.CancelFunc
			taskCtx, cancel = context.WithTimeout(ctx, j.timeout)
			defer cancel()
			queueDeadline = start.Add(m.opts.QueueWait + j.timeout)
		}
		if m.log.DebugEnabled() {
			m.log.Debug("assigned task", "task_id", id, "task", j, "slave", mb.s.key.nodeKey)
		}
		ev, err := m.runOn(taskCtx, mb, j)
		switch {
		case err != nil:
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				m.log.Warning("task timed out", "task_id", id, "slave", mb.s.key.nodeKey, "after", time.Since(start))
				err = errTaskTimeout
			}
			return taskOutcome{TaskID: id, Slave: mb.s.key.nodeKey}, err
		case ev.kind == outcomeResult && ev.result.OK:
			return taskOutcome{TaskID: id, Value: ev.result.Body, Slave: mb.s.key.nodeKey, Duration: time.Since(start),
				Compute: time.Duration(ev.result.ComputeMicros) * time.Microsecond}, nil
		case ev.kind == outcomeResult:
			m.log.Warning("task failed on slave", "task_id", id, "slave", mb.s.key.nodeKey, "err", ev.result.Body)
			return taskOutcome{TaskID: id, Slave: mb.s.key.nodeKey}, fmt.Errorf("%w on %s: %s", errTaskFailed, mb.s.key.nodeKey, ev.result.Body)
		case ev.kind == outcomeNak:
			skip = append(skip, mb)
			m.log.Debug("slave refused task", "task_id", id, "slave", mb.s.key.nodeKey, "reason", ev.reason)
		case ev.kind == outcomeLost:
			attempts++
			m.log.Warning("slave lost with task", "task_id", id, "slave", mb.s.key.nodeKey, "cause", ev.reason)
			if attempts >= m.opts.MaxAttempts {
				m.log.Error("task given up", "task_id", id, "task", j, "attempts", attempts)
				return taskOutcome{TaskID: id}, fmt.Errorf("%w: %d slaves were lost while running it", errTaskFailed, attempts)
			}
			m.metrics.redispatched.Inc()
		}
	}
}

// runOn sends the task to mb, whose load is already reserved, and waits for
// its final outcome (result, refusal or loss).
func (m *Master) runOn(ctx context.Context, mb *member, j job) (event, error) {
	id := m.wireSeq.Add(1)
	c, err := mb.s.link.send(id, j.index, j.request(id), j.load)
	if err != nil {
		// Lost before the task went out: like a refusal, it costs no attempt.
		m.pool.release(mb, j.load)
		return event{kind: outcomeNak, reason: err.Error()}, nil
	}
	select {
	case ev := <-c.events:
		switch {
		case ev.kind == outcomeNak:
			mb.s.refused.Add(1)
		case ev.kind == outcomeResult && ev.result.OK:
			mb.s.done.Add(1)
		case ev.kind == outcomeResult:
			mb.s.failed.Add(1)
		}
		return ev, nil
	case <-ctx.Done():
		return event{}, ctx.Err()
	}
}
