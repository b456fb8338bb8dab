package slave

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// executor admits tasks against the max load and runs them: cheap ones at
// once, on the caller's goroutine (the cheap lane), the others at most
// Workers at a time. Its committed load outlives sessions: a task still
// running after its master left still uses the CPU.
type executor struct {
	maxLoad uint64
	metrics *metrics
	// workers, when not nil, holds a token per task computing on a worker:
	// at most cap(workers) do at once, the others wait their turn.
	workers chan struct{}
	// emulate admits emulated tasks, which run at speed.
	emulate bool
	speed   float64

	mu         sync.Mutex
	committed  uint64
	admitted   int // admitted and not finished, on any lane
	busy       int // computing on a worker
	queued     int // waiting for a worker
	completed  uint64
	busyMicros uint64
}

// job is an admitted task: what it computes and the load it holds until it
// ends. Any kind of task becomes one (built-ins by admitBuiltin).
type job struct {
	name  string // the task type, in metrics
	load  uint64
	cheap bool // computes in microseconds: on the cheap lane, never waiting for a worker
	// ownLane jobs (an operator's task with workers=) wait for a worker of
	// their task's own, not for a shared one.
	ownLane bool
	compute func(ctx context.Context) (string, error)
}

// execStats is what the executor holds, for the load report.
type execStats struct {
	committed                       uint64
	admitted, workers, busy, queued int
	completed, busyMicros           uint64
}

// admitBuiltin turns req into a job of a common/tasks task and reserves its
// load, or says why it cannot.
func (e *executor) admitBuiltin(req packets.TaskRequest) (job, error) {
	t, ok := tasks.ByCode(req.Task)
	if !ok {
		return job{}, fmt.Errorf("unknown task code %d", req.Task)
	}
	if t.Emulated && !e.emulate {
		return job{}, fmt.Errorf("%s is an emulated task: this slave was not started with -emulate", t.Name)
	}
	if req.N > t.MaxN {
		return job{}, fmt.Errorf("%s n=%d exceeds %d", t.Name, req.N, t.MaxN)
	}
	j := job{name: t.Name, load: t.Load(req.N), cheap: req.N <= t.CheapMaxN && !t.Emulated}
	j.compute = func(ctx context.Context) (string, error) {
		if t.Emulated {
			ctx = tasks.WithSpeed(ctx, e.speed)
		}
		return t.Run(ctx, req.N)
	}
	return j, e.reserve(j.load)
}

// reserve commits load for a task, built-in or the operator's, unless it
// would exceed the max load.
func (e *executor) reserve(load uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.committed+load > e.maxLoad {
		return fmt.Errorf("load %d on top of committed %d exceeds max load %d", load, e.committed, e.maxLoad)
	}
	e.committed += load
	e.admitted++
	e.metrics.committed.Set(float64(e.committed))
	return nil
}

// run computes an admitted job, a cheap one at once and any other on a
// worker (waiting for one if they are all busy), and releases its load.
// It returns the result and the time spent computing it; a job whose ctx
// ends while it waits is dropped with ctx's error.
func (e *executor) run(ctx context.Context, j job) (string, time.Duration, error) {
	defer e.release(j.load)
	if j.cheap || j.ownLane {
		return e.compute(ctx, j)
	}
	if err := e.takeWorker(ctx); err != nil {
		return "", 0, err
	}
	body, took, err := e.compute(ctx, j)
	e.giveWorker(took)
	return body, took, err
}

func (e *executor) compute(ctx context.Context, j job) (string, time.Duration, error) {
	start := time.Now()
	body, err := j.compute(ctx)
	took := time.Since(start)
	if err == nil {
		e.metrics.duration.WithLabelValues(j.name).Observe(took.Seconds())
	}
	return body, took, err
}

// takeWorker waits for a free worker, counted as queued meanwhile.
func (e *executor) takeWorker(ctx context.Context) error {
	if e.workers != nil {
		select {
		case e.workers <- struct{}{}:
		default:
			e.count(&e.queued, 1)
			defer e.count(&e.queued, -1)
			select {
			case e.workers <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	e.count(&e.busy, 1)
	return nil
}

// giveWorker frees the worker of a job that computed for took.
func (e *executor) giveWorker(took time.Duration) {
	e.mu.Lock()
	e.busy--
	e.busyMicros += uint64(took.Microseconds())
	e.mu.Unlock()
	if e.workers != nil {
		<-e.workers
	}
}

func (e *executor) count(n *int, delta int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	*n += delta
}

// release returns the load of a job that ended, however it ended.
func (e *executor) release(load uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.committed -= load
	e.admitted--
	e.completed++
	e.metrics.committed.Set(float64(e.committed))
}

func (e *executor) stats() execStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return execStats{
		committed: e.committed, admitted: e.admitted, workers: cap(e.workers), busy: e.busy, queued: e.queued,
		completed: e.completed, busyMicros: e.busyMicros,
	}
}
