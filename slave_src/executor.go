package slave

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// executor admits tasks against the max load and runs them, all at once or
// at most Workers at a time. Its committed
// load outlives sessions: a task still running after its master left still
// uses the CPU.
type executor struct {
	maxLoad uint64
	metrics *metrics
	// workers, when not nil, holds a token per task computing: at most
	// cap(workers) run at once, the others wait their turn.
	workers chan struct{}
	// emulate admits emulated tasks, which run at speed.
	emulate bool
	speed   float64

	mu        sync.Mutex
	committed uint64
	running   int
}

// admit reserves the load of req, or says why it cannot.
func (e *executor) admit(req packets.TaskRequest) (tasks.Task, uint64, error) {
	t, ok := tasks.ByCode(req.Task)
	if !ok {
		return tasks.Task{}, 0, fmt.Errorf("unknown task code %d", req.Task)
	}
	if t.Emulated && !e.emulate {
		return tasks.Task{}, 0, fmt.Errorf("%s is an emulated task: this slave was not started with -emulate", t.Name)
	}
	if req.N > t.MaxN {
		return tasks.Task{}, 0, fmt.Errorf("%s n=%d exceeds %d", t.Name, req.N, t.MaxN)
	}
	load := t.Load(req.N)
	if err := e.reserve(load); err != nil {
		return tasks.Task{}, 0, err
	}
	return t, load, nil
}

// reserve commits load for a task, built-in or the operator's, if it fits
// under the max load.
func (e *executor) reserve(load uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.committed+load > e.maxLoad {
		return fmt.Errorf("load %d on top of committed %d exceeds max load %d", load, e.committed, e.maxLoad)
	}
	e.committed += load
	e.running++
	e.metrics.committed.Set(float64(e.committed))
	return nil
}

// run computes an admitted task, waiting for a worker if they are all busy,
// and releases its load.
// It returns the result and the time spent computing it.
func (e *executor) run(ctx context.Context, t tasks.Task, load uint64, n uint64) (string, time.Duration, error) {
	if e.workers != nil {
		select {
		case e.workers <- struct{}{}:
		case <-ctx.Done():
			e.release(load)
			return "", 0, ctx.Err()
		}
	}
	return e.compute(ctx, t, load, n)
}

// tryWorker takes a worker if one is free at once; compute gives it back.
func (e *executor) tryWorker() bool {
	if e.workers == nil {
		return true
	}
	select {
	case e.workers <- struct{}{}:
		return true
	default:
		return false
	}
}

// compute runs an admitted task on a worker already taken, then gives back
// the worker and the task's load.
func (e *executor) compute(ctx context.Context, t tasks.Task, load uint64, n uint64) (string, time.Duration, error) {
	defer e.release(load)
	if e.workers != nil {
		defer func() { <-e.workers }()
	}
	start := time.Now()
	if t.Emulated {
		ctx = tasks.WithSpeed(ctx, e.speed)
	}
	result, err := t.Run(ctx, n)
	took := time.Since(start)
	if err == nil {
		e.metrics.duration.WithLabelValues(t.Name).Observe(took.Seconds())
	}
	return result, took, err
}

// release returns the load of a task that ended or never started.
func (e *executor) release(load uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.committed -= load
	e.running--
	e.metrics.committed.Set(float64(e.committed))
}

// state returns the committed load and the number of running tasks.
func (e *executor) state() (uint64, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.committed, e.running
}
