package slave

import (
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

// An operator's task with workers= of its own never waits for the slave's
// shared workers: with the only shared worker computing a heavy task, it
// still runs and answers first.
func TestOwnLaneTaskDoesNotWaitForASharedWorker(t *testing.T) {
	o := testOptions()
	o.MaxLoad, o.Workers = 1<<62, 1
	o.Tasks = []usertask.Spec{mustSpec(t, "name=echo,exec=cat,load=1,workers=1")}
	m := connectOptions(t, o, nil, time.Hour)
	_ = m.result.SetReadDeadline(time.Now().Add(30 * time.Second))
	m.send(t, heavy(1))
	m.expect(t, packets.TaskAck{ID: 1})
	testWaitFor(t, "the shared worker computing", func() bool { return m.s.exec.stats().busy == 1 })
	m.send(t, packets.TaskInputRequest{ID: 2, Name: "echo", Input: []byte("hi")})
	m.expect(t, packets.TaskAck{ID: 2})
	m.expectResult(t, 2, "hi")
	m.send(t, packets.TaskCancel{ID: 1})
	m.expect(t, packets.TaskCancelled{ID: 1})
}

// A task answered is forgotten by the set a cancel reaches: the set does
// not grow with every task, and an id seen before is not "running already".
func TestAnsweredTaskForgotten(t *testing.T) {
	m := oneWorker(t)
	for range 2 {
		m.send(t, packets.TaskRequest{ID: 7, Task: 2, N: 1000})
		m.expect(t, packets.TaskAck{ID: 7})
		m.expectResult(t, 7, "168")
	}
}
