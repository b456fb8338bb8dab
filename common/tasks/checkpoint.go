package tasks

import (
	"context"
	"runtime"
)

// checkpoint is where a computing task looks at its context, every few
// milliseconds of work at most. It also yields the processor: when every
// core computes, a goroutine the network woke (a slave's task link, with a
// cheap task or a cancel to read) runs now instead of waiting up to the
// scheduler's 10 ms preemption, once per step of a chain.
func checkpoint(ctx context.Context) error {
	runtime.Gosched()
	return ctx.Err()
}
