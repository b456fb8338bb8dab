package slave

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

func TestExecutorWorkersCap(t *testing.T) {
	t.Parallel()
	e := &executor{maxLoad: 1000, metrics: newMetrics(1000), workers: make(chan struct{}, 1)}
	req := packets.TaskRequest{ID: 1, Task: 1, N: 10}
	task, load, err := e.admit(req)
	if err != nil {
		t.Fatal(err)
	}
	e.workers <- struct{}{} // the only worker is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := e.run(ctx, task, load, req.N); !errors.Is(err, context.Canceled) {
		t.Fatalf("run with every worker busy and ctx cancelled: %v, want context.Canceled", err)
	}
	if committed, running := e.state(); committed != 0 || running != 0 {
		t.Fatalf("after giving up: committed %d, running %d; want the load released", committed, running)
	}
	<-e.workers // the worker is free again
	task, load, _ = e.admit(req)
	if got, _, err := e.run(context.Background(), task, load, req.N); err != nil || got != "55" {
		t.Fatalf("run = %q, %v; want 55", got, err)
	}
	if len(e.workers) != 0 {
		t.Fatal("the worker token was not returned")
	}
	// A cheap task computed at once takes the worker only if it is free.
	e.workers <- struct{}{}
	if e.tryWorker() {
		t.Fatal("tryWorker took a worker while the only one was busy")
	}
	<-e.workers
	if !e.tryWorker() {
		t.Fatal("tryWorker found no worker while the only one was free")
	}
	task, load, _ = e.admit(req)
	if got, _, err := e.compute(context.Background(), task, load, req.N); err != nil || got != "55" {
		t.Fatalf("compute = %q, %v; want 55", got, err)
	}
	if len(e.workers) != 0 {
		t.Fatal("compute did not return the worker token")
	}
}

func TestExecutorEmulatedTasks(t *testing.T) {
	t.Parallel()
	work, _ := tasks.ByName("work")
	req := packets.TaskRequest{ID: 1, Task: work.Code, N: 200_000} // 200 ms at speed 1
	off := &executor{maxLoad: 1000, metrics: newMetrics(1000), speed: 1}
	if _, _, err := off.admit(req); err == nil {
		t.Fatal("a slave without -emulate admitted an emulated task")
	}
	on := &executor{maxLoad: 1000, metrics: newMetrics(1000), emulate: true, speed: 8}
	task, load, err := on.admit(req)
	if err != nil {
		t.Fatal(err)
	}
	_, took, err := on.run(context.Background(), task, load, req.N)
	// 200 ms / 8 = 25 ms; a timer never fires early, and speed 1 would be 200.
	if err != nil || took < 25*time.Millisecond || took >= 200*time.Millisecond {
		t.Fatalf("took %v, %v; want 25 ms (the service time over the speed)", took, err)
	}
}
