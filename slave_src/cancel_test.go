package slave

import (
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// oneWorker is a session on a slave with a single worker and room for
// every task the tests send.
func oneWorker(t *testing.T) *masterEnd {
	t.Helper()
	m := connectWith(t, func(o *Options) { o.MaxLoad, o.Workers = 1<<62, 1 }, nil, time.Hour)
	_ = m.result.SetReadDeadline(time.Now().Add(30 * time.Second))
	return m
}

func (m *masterEnd) send(t testing.TB, msgs ...packets.Message) {
	t.Helper()
	var b []byte
	for _, msg := range msgs {
		b = packets.Append(b, msg)
	}
	if _, err := m.task.Write(b); err != nil {
		t.Fatal(err)
	}
}

// expect reads the next message on the result link, which must be want.
func (m *masterEnd) expect(t testing.TB, want packets.Message) {
	t.Helper()
	if got := m.read(t, m.resultR); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

// expectResult reads the next message, which must be task id's result body.
func (m *masterEnd) expectResult(t testing.TB, id uint64, body string) {
	t.Helper()
	if res, ok := m.read(t, m.resultR).(packets.TaskResult); !ok || res.ID != id || !res.OK || res.Body != body {
		t.Fatalf("got %#v, want task %d's result %q", res, id, body)
	}
}

// heavy is a primes task that computes for seconds: only a cancel ends it
// within a test.
func heavy(id uint64) packets.TaskRequest { return packets.TaskRequest{ID: id, Task: 2, N: 200_000} }

// A cancel drops a task waiting for the worker at once and stops the one
// computing; each answers TaskCancelled as its last message, with its load
// and worker free.
func TestCancelQueuedAndRunning(t *testing.T) {
	m := oneWorker(t)
	exec := m.s.exec
	m.send(t, heavy(1), heavy(2))
	m.expect(t, packets.TaskAck{ID: 1})
	m.expect(t, packets.TaskAck{ID: 2})
	testWaitFor(t, "task 1 computing, task 2 queued", func() bool {
		st := exec.stats()
		return st.busy == 1 && st.queued == 1
	})
	m.send(t, packets.TaskCancel{ID: 2})
	m.expect(t, packets.TaskCancelled{ID: 2})
	if st := exec.stats(); st.committed != heavy(1).N*heavy(1).N || st.admitted != 1 || st.queued != 0 || st.busy != 1 {
		t.Fatalf("after dropping the queued task: %+v; want task 1 alone", st)
	}
	m.send(t, packets.TaskCancel{ID: 1})
	m.expect(t, packets.TaskCancelled{ID: 1})
	if st := exec.stats(); st.committed != 0 || st.admitted != 0 || st.busy != 0 || st.completed != 2 {
		t.Fatalf("after stopping the running task: %+v; want nothing held", st)
	}
	if got := value(m.s.metrics.cancelled); got != 2 {
		t.Fatalf("slave_tasks_cancelled_total = %v, want 2", got)
	}
	// The worker is free: a task that needs it computes.
	m.send(t, packets.TaskRequest{ID: 3, Task: 2, N: 1000})
	m.expect(t, packets.TaskAck{ID: 3})
	m.expectResult(t, 3, "168")
}

// A cancel that finds nothing to stop (an unknown id, a task answered
// already, one on the cheap lane) is ignored: the next message is the
// answer to the next request.
func TestCancelIgnored(t *testing.T) {
	m := oneWorker(t)
	m.send(t, packets.TaskRequest{ID: 1, Task: 1, N: 10}, packets.TaskRequest{ID: 2, Task: 2, N: 1000})
	m.expect(t, packets.TaskAck{ID: 1})
	m.expectResult(t, 1, "55")
	m.expect(t, packets.TaskAck{ID: 2})
	m.expectResult(t, 2, "168")
	for _, tc := range []struct {
		name   string
		cancel uint64
	}{
		{"the cheap task answered", 1},
		{"the worker's task answered", 2},
		{"an unknown id", 777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := 100 + tc.cancel
			m.send(t, packets.TaskCancel{ID: tc.cancel}, packets.TaskRequest{ID: id, Task: 1, N: 20})
			m.expect(t, packets.TaskAck{ID: id})
			m.expectResult(t, id, "6765")
		})
	}
	if got := value(m.s.metrics.cancelled); got != 0 {
		t.Fatalf("slave_tasks_cancelled_total = %v, want 0", got)
	}
}

// A task id that is running already is refused: its cancel would reach the
// wrong task.
func TestDuplicateRunningIDRefused(t *testing.T) {
	m := oneWorker(t)
	m.send(t, heavy(1), heavy(1))
	m.expect(t, packets.TaskAck{ID: 1})
	if nak, ok := m.read(t, m.resultR).(packets.TaskNak); !ok || nak.ID != 1 {
		t.Fatalf("got %#v, want the second task 1 refused", nak)
	}
	m.send(t, packets.TaskCancel{ID: 1})
	m.expect(t, packets.TaskCancelled{ID: 1})
}

// Cancels racing with results: every task gets exactly one last message,
// its result or TaskCancelled, and nothing follows it.
func TestCancelRacesWithResults(t *testing.T) {
	m := connectWith(t, func(o *Options) { o.MaxLoad, o.Workers = 1<<62, 2 }, nil, time.Hour)
	_ = m.result.SetReadDeadline(time.Now().Add(60 * time.Second))
	const tasks = 300
	for id := uint64(1); id <= tasks; id++ {
		// primes n=300..1200: tens to hundreds of µs, about what a cancel
		// takes to arrive. The cancel follows the request at once, or after
		// a pause that lets the task start or finish: the sleep only spreads
		// the outcomes, nothing waits on it.
		req := packets.TaskRequest{ID: id, Task: 2, N: 300 + id*7%900}
		if id%3 == 0 {
			m.send(t, req, packets.TaskCancel{ID: id})
			continue
		}
		m.send(t, req)
		time.Sleep(time.Duration(id%5) * 40 * time.Microsecond)
		m.send(t, packets.TaskCancel{ID: id})
	}
	acked, ended := map[uint64]bool{}, map[uint64]string{}
	var cancelled int
	for len(ended) < tasks {
		var id uint64
		var kind string
		switch msg := m.read(t, m.resultR).(type) {
		case packets.TaskAck:
			if acked[msg.ID] {
				t.Fatalf("task %d acknowledged twice", msg.ID)
			}
			acked[msg.ID] = true
			continue
		case packets.TaskResult:
			id, kind = msg.ID, "result"
		case packets.TaskCancelled:
			id, kind = msg.ID, "cancelled"
			cancelled++
		default:
			t.Fatalf("unexpected %#v", msg)
		}
		if !acked[id] {
			t.Fatalf("task %d: %s before its ACK", id, kind)
		}
		if prev, dup := ended[id]; dup {
			t.Fatalf("task %d: %s after %s", id, kind, prev)
		}
		ended[id] = kind
	}
	m.send(t, packets.TaskRequest{ID: tasks + 1, Task: 1, N: 10}) // nothing may come before its answer
	m.expect(t, packets.TaskAck{ID: tasks + 1})
	m.expectResult(t, tasks+1, "55")
	if st := m.s.exec.stats(); st.committed != 0 || st.admitted != 0 {
		t.Fatalf("after the race: %+v, want nothing held", st)
	}
	if got := value(m.s.metrics.cancelled); got != float64(cancelled) {
		t.Fatalf("slave_tasks_cancelled_total = %v, want %d", got, cancelled)
	}
	t.Logf("%d of %d tasks cancelled", cancelled, tasks)
}

// A cheap task is answered while the only worker computes and another task
// waits for it: the cheap lane is not behind the workers.
func TestCheapLaneNotBlocked(t *testing.T) {
	m := oneWorker(t)
	m.send(t, heavy(1), heavy(2))
	m.expect(t, packets.TaskAck{ID: 1})
	m.expect(t, packets.TaskAck{ID: 2})
	testWaitFor(t, "the worker busy and a task queued", func() bool {
		st := m.s.exec.stats()
		return st.busy == 1 && st.queued == 1
	})
	for id := uint64(3); id < 6; id++ {
		m.send(t, packets.TaskRequest{ID: id, Task: 1, N: 90})
		m.expect(t, packets.TaskAck{ID: id})
		m.expectResult(t, id, "2880067194370816120")
	}
	if st := m.s.exec.stats(); st.busy != 1 || st.queued != 1 {
		t.Fatalf("after the cheap tasks: %+v; want them never counted as busy or queued", st)
	}
	m.send(t, packets.TaskCancel{ID: 1}, packets.TaskCancel{ID: 2})
}
