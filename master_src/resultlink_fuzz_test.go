package master

import (
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// recordedEvents is a linkEvents that counts what the reader told it.
type recordedEvents struct {
	mu                 sync.Mutex
	nFinished          int
	nResults           int // finished with a result: its times observed
	released           uint64
	nOffers, nLeavings int
}

func (e *recordedEvents) finished(_ uint8, load uint64, _, _ time.Duration, result bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nFinished++
	if result {
		e.nResults++
	}
	e.released += load
}

func (e *recordedEvents) offered(packets.TaskOffer) { e.mu.Lock(); e.nOffers++; e.mu.Unlock() }
func (e *recordedEvents) leaving()                  { e.mu.Lock(); e.nLeavings++; e.mu.Unlock() }
func (e *recordedEvents) lost(error)                {}

// FuzzResultLink feeds a hostile slave's bytes to the master's reader of
// the result link, with three tasks in flight (ids 1, 2, 3, load 10
// each): whatever the order, repeats, unknown ids or garbage, the reader
// never panics nor blocks, ends with an error when the bytes end, gives
// each call at most one outcome, and releases the load of exactly the
// calls it finished.
func FuzzResultLink(f *testing.F) {
	frames := func(ms ...packets.Message) []byte {
		var b []byte
		for _, m := range ms {
			b = packets.Append(b, m)
		}
		return b
	}
	f.Add(frames(packets.TaskAck{ID: 1}, packets.TaskResult{ID: 1, OK: true, Body: "55"}))
	f.Add(frames(packets.TaskNak{ID: 2, Reason: "full"}, packets.TaskNak{ID: 2, Reason: "again"}))
	f.Add(frames(packets.TaskCancelled{ID: 3}, packets.TaskResult{ID: 3, OK: true, Body: "late"}))
	f.Add(frames(packets.Leaving{}, packets.TaskResult{ID: 1, OK: true}, packets.Leaving{}, packets.TaskAck{ID: 2}))
	f.Add(frames(packets.TaskOffer{Tasks: []packets.OfferedTask{{Name: "sha", MaxInput: 1}}}, packets.TaskResult{ID: math.MaxUint64}))
	f.Add(frames(packets.TaskResult{ID: 0}, packets.TaskCancelled{ID: 1 << 63}, packets.LoadRequest{Seq: 1}))
	f.Add(append(frames(packets.TaskAck{ID: 1}), 0xff, 0x01, 0x00))
	f.Fuzz(func(t *testing.T, b []byte) {
		resultM, resultS := net.Pipe()
		taskM, taskS := net.Pipe()
		defer resultS.Close()
		defer taskS.Close()
		drained := make(chan struct{})
		go func() { // the slave's end of the task link: reads the LeaveAcks
			defer close(drained)
			_, _ = io.Copy(io.Discard, taskS)
		}()
		ev := &recordedEvents{}
		l := &slaveLink{result: resultM, task: taskM, tasks: packets.NewBatchWriter(taskM), events: ev,
			calls: map[uint64]*call{}, done: make(chan struct{})}
		var calls []*call
		for id := uint64(1); id <= 3; id++ {
			c := &call{task: 1, load: 10, sentAt: time.Now(), events: make(chan event, 1)}
			l.calls[id], calls = c, append(calls, c)
		}
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = resultS.Write(b)
			_ = resultS.Close()
		}()
		var group sync.WaitGroup
		if err := l.readResults(&group); err == nil {
			t.Fatal("the reader returned no error at the end of the bytes")
		}
		_ = resultM.Close() // a frame it refused may have left bytes unread
		<-wrote
		group.Wait()
		l.tasks.Close()
		_ = taskM.Close()
		<-drained
		answered, results := 0, 0
		for _, c := range calls {
			if len(c.events) == 1 {
				answered++
				if (<-c.events).kind == outcomeResult {
					results++
				}
			}
		}
		if answered+len(l.calls) != len(calls) {
			t.Fatalf("%d calls answered and %d still in flight, of %d", answered, len(l.calls), len(calls))
		}
		if ev.nFinished != answered || ev.released != uint64(10*answered) {
			t.Fatalf("%d finished events releasing %d load for %d answered calls", ev.nFinished, ev.released, answered)
		}
		if ev.nResults != results {
			t.Fatalf("%d finished events with their times observed for %d results", ev.nResults, results)
		}
	})
}
