package slave

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// A job waits for a worker, counted as queued, and gives up when its context
// ends; it computes on the worker, counted as busy; any way it ends, its load
// goes back and it counts as completed.
func TestExecutorWorkers(t *testing.T) {
	t.Parallel()
	e := &executor{maxLoad: 1 << 20, metrics: newMetrics(1 << 20), workers: make(chan struct{}, 1)}
	req := packets.TaskRequest{ID: 1, Task: 1, N: 5000} // fibonacci, not cheap
	j, err := e.admitBuiltin(req)
	if err != nil || j.cheap {
		t.Fatalf("admit = %+v, %v; want a job off the cheap lane", j, err)
	}
	e.workers <- struct{}{} // the only worker is busy
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, _, err := e.run(ctx, j)
		gaveUp <- err
	}()
	testWaitFor(t, "the job queued", func() bool { return e.stats().queued == 1 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("run with every worker busy and ctx cancelled: %v, want context.Canceled", err)
	}
	if st := e.stats(); st != (execStats{workers: 1, completed: 1}) {
		t.Fatalf("after giving up: %+v; want the load released and nothing queued", st)
	}
	<-e.workers // the worker is free again
	j, _ = e.admitBuiltin(req)
	got, took, err := e.run(context.Background(), j)
	if err != nil || got != tasks.Fibonacci(5000).String() {
		t.Fatalf("run = %.20q, %v; want F(5000)", got, err)
	}
	if len(e.workers) != 0 {
		t.Fatal("the worker token was not returned")
	}
	want := execStats{workers: 1, completed: 2, busyMicros: uint64(took.Microseconds())}
	if st := e.stats(); st != want {
		t.Fatalf("after a run: %+v, want %+v", st, want)
	}
}

// A cheap job computes at once while every worker is busy, and is not
// counted as busy.
func TestExecutorCheapLane(t *testing.T) {
	t.Parallel()
	e := &executor{maxLoad: 1000, metrics: newMetrics(1000), workers: make(chan struct{}, 1)}
	e.workers <- struct{}{}
	j, err := e.admitBuiltin(packets.TaskRequest{ID: 1, Task: 1, N: 10})
	if err != nil || !j.cheap {
		t.Fatalf("admit = %+v, %v; want a cheap job", j, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a wait for the worker would end here
	defer cancel()
	if got, _, err := e.run(ctx, j); err != nil || got != "55" {
		t.Fatalf("cheap run with every worker busy = %q, %v; want 55", got, err)
	}
	if st := e.stats(); st != (execStats{workers: 1, completed: 1}) {
		t.Fatalf("after a cheap run: %+v; want no busy time counted", st)
	}
}

func TestExecutorEmulatedTasks(t *testing.T) {
	t.Parallel()
	work, _ := tasks.ByName("work")
	req := packets.TaskRequest{ID: 1, Task: work.Code, N: 200_000} // 200 ms at speed 1
	off := &executor{maxLoad: 1000, metrics: newMetrics(1000), speed: 1}
	if _, err := off.admitBuiltin(req); err == nil {
		t.Fatal("a slave without -emulate admitted an emulated task")
	}
	on := &executor{maxLoad: 1000, metrics: newMetrics(1000), emulate: true, speed: 8}
	j, err := on.admitBuiltin(req)
	if err != nil {
		t.Fatal(err)
	}
	_, took, err := on.run(context.Background(), j)
	// 200 ms / 8 = 25 ms; a timer never fires early, and speed 1 would be 200.
	if err != nil || took < 25*time.Millisecond || took >= 200*time.Millisecond {
		t.Fatalf("took %v, %v; want 25 ms (the service time over the speed)", took, err)
	}
}
