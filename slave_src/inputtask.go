package slave

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

// offersAfter returns the loop that sends the TaskOffer again whenever the
// operator's tasks change; changed belongs to the offer serve sent first.
func (ss *session) offersAfter(changed <-chan struct{}) func(context.Context, *sync.WaitGroup) error {
	return func(hard context.Context, _ *sync.WaitGroup) error {
		for {
			select {
			case <-hard.Done():
				return nil
			case <-changed:
			}
			var set *usertask.Set
			set, changed = ss.s.offers.current()
			if err := ss.results.Write(ss.s.offers.message(set)); err != nil {
				return fmt.Errorf("result link: %w", err)
			}
		}
	}
}

// startInputTask admits an operator's task and runs it in a goroutine; an
// error means the result link failed.
func (ss *session) startInputTask(ctx context.Context, req packets.TaskInputRequest, wg *sync.WaitGroup) error {
	log := ss.s.opts.Log
	ss.s.metrics.requested.Inc()
	t, load, err := ss.admitInput(req, wg)
	if err != nil {
		ss.s.metrics.refused.Inc()
		log.Debug("refused task", "task_id", req.ID, "task", req.Name, "reason", err)
		return ss.results.Queue(packets.TaskNak{ID: req.ID, Reason: nakReason(err)})
	}
	if err := ss.results.Queue(packets.TaskAck{ID: req.ID}); err != nil {
		ss.s.exec.release(load)
		wg.Done()
		return err
	}
	log.Debug("accepted task", "task_id", req.ID, "task", req.Name, "input_bytes", len(req.Input))
	go func() {
		defer wg.Done()
		body, took, err := ss.s.exec.runInput(ctx, t, load, req.Input)
		if ctx.Err() != nil {
			log.Debug("task abandoned", "task_id", req.ID, "err", err)
			return
		}
		res := packets.TaskResult{ID: req.ID, OK: err == nil, ComputeMicros: uint64(took.Microseconds()), Body: string(body)}
		if err != nil {
			log.Info("task failed", "task_id", req.ID, "task", req.Name, "err", err)
			res.Body = err.Error()
		}
		if err := ss.results.Queue(res); err != nil {
			log.Warning("result not delivered", "task_id", req.ID, "err", err)
			return
		}
		ss.s.metrics.completed.Inc()
		ss.results.Flush()
	}()
	return nil
}

// admitInput finds the task among those offered now and reserves its load,
// counting it in wg, unless the slave is draining.
func (ss *session) admitInput(req packets.TaskInputRequest, wg *sync.WaitGroup) (*usertask.Task, uint64, error) {
	set, _ := ss.s.offers.current()
	t, ok := set.Get(req.Name)
	if !ok {
		return nil, 0, fmt.Errorf("task %s is not offered by this slave", req.Name)
	}
	if len(req.Input) > int(t.MaxInput) {
		return nil, 0, fmt.Errorf("input of %d bytes exceeds %s's max-input (%d bytes)", len(req.Input), t.Name, t.MaxInput)
	}
	load := t.LoadOf(req.Input)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.draining {
		return nil, 0, errors.New("the slave is leaving")
	}
	if err := ss.s.exec.reserve(load); err != nil {
		return nil, 0, err
	}
	wg.Add(1)
	return t, load, nil
}

// nakReason fits err in a NAK's reason (at most 255 bytes on the wire).
func nakReason(err error) string {
	r := err.Error()
	if len(r) > 255 {
		r = r[:252] + "..."
	}
	return r
}

// runInput runs an admitted operator's task on a shared worker (unless the
// task has its own lane: usertask.Task waits for it) and releases its load.
func (e *executor) runInput(ctx context.Context, t *usertask.Task, load uint64, input []byte) ([]byte, time.Duration, error) {
	defer e.release(load)
	if e.workers != nil && !t.OwnLane() {
		select {
		case e.workers <- struct{}{}:
			defer func() { <-e.workers }()
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	start := time.Now()
	body, err := t.Run(ctx, input)
	took := time.Since(start)
	if err == nil {
		e.metrics.duration.WithLabelValues(t.Name).Observe(took.Seconds())
	}
	return body, took, err
}
