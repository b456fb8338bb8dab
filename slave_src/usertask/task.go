package usertask

import (
	"context"
	"fmt"
)

// Runner computes a task's result from its input.
type Runner interface {
	Run(ctx context.Context, input []byte) ([]byte, error)
}

var (
	_ Runner = (*execRunner)(nil)
	_ Runner = (*httpRunner)(nil)
	_ Runner = (*Task)(nil)
)

// Task is a spec ready to run, with its own lane of workers if it has one.
type Task struct {
	Spec
	runner Runner
	// lane holds a token per task computing when Spec.Workers > 0.
	lane chan struct{}
}

// New builds the runner of sp.
func New(sp Spec) (*Task, error) {
	t := &Task{Spec: sp}
	if sp.Workers > 0 {
		t.lane = make(chan struct{}, sp.Workers)
	}
	if sp.HTTP != "" {
		t.runner = newHTTPRunner(sp)
		return t, nil
	}
	r, err := newExecRunner(sp)
	if err != nil {
		return nil, err
	}
	t.runner = r
	return t, nil
}

// OwnLane reports whether the task has workers of its own, so the slave's
// shared workers are not to be taken for it.
func (t *Task) OwnLane() bool { return t.lane != nil }

// Run checks the input against max-input before anything starts, waits
// for a worker of the task's lane if it has one, and runs the task within
// its timeout.
func (t *Task) Run(ctx context.Context, input []byte) ([]byte, error) {
	if len(input) > int(t.MaxInput) {
		return nil, fmt.Errorf("input of %d bytes exceeds max-input (%d bytes)", len(input), t.MaxInput)
	}
	if t.lane != nil {
		select {
		case t.lane <- struct{}{}:
			defer func() { <-t.lane }()
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, t.Timeout, fmt.Errorf("timed out after %s", t.Timeout))
	defer cancel()
	return t.runner.Run(ctx, input)
}
