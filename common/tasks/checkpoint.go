package tasks

import (
	"context"
	"runtime"
	"time"
)

// yieldEvery is how much computing a task does before it yields the
// processor at a checkpoint.
const yieldEvery = 5 * time.Millisecond

// checkpoints is where a computing task looks at its context, every few
// milliseconds of work at most, and yields the processor every yieldEvery:
// when every core computes, a goroutine the network woke (a slave's task
// link, with a cheap task or a cancel to read) then waits at most that long
// instead of the scheduler's 10 ms preemption. Not more often: the slave
// computes heavy tasks on threads of their own, so a yield hands the
// processor from thread to thread, tens of microseconds each time (yielding
// at every check, 78 times in a /primes?n=5000, halved its throughput).
type checkpoints struct {
	ctx       context.Context
	lastYield time.Time
}

func newCheckpoints(ctx context.Context) checkpoints {
	return checkpoints{ctx: ctx, lastYield: time.Now()}
}

// check returns the context's error, yielding first if it is time to.
func (c *checkpoints) check() error {
	if now := time.Now(); now.Sub(c.lastYield) >= yieldEvery {
		runtime.Gosched()
		c.lastYield = now
	}
	return c.ctx.Err()
}
