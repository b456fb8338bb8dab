package slave

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// fuzzSession is a session whose links are in-memory pipes: the fuzzer
// plays the master on them. The max load keeps every admitted task cheap.
func fuzzSession() (*session, [3]net.Conn) {
	o := NewOptions()
	o.MaxLoad, o.Log = 20000, logger.Discard()
	s := &Slave{opts: o, metrics: newMetrics(o.MaxLoad), cpu: func() (float64, error) { return 0.5, nil }}
	s.exec = &executor{maxLoad: o.MaxLoad, metrics: s.metrics, workers: make(chan struct{}, 2)}
	var masterEnds [3]net.Conn
	ss := &session{s: s, poll: time.Second, leaveAcked: make(chan struct{}), running: map[uint64]context.CancelCauseFunc{}}
	for i, c := range []*net.Conn{&ss.load, &ss.task, &ss.result} {
		*c, masterEnds[i] = net.Pipe()
	}
	ss.results = packets.NewBatchWriter(ss.result)
	return ss, masterEnds
}

// drain reads and decodes what the slave writes on c until it closes,
// failing on a frame the master could not read, and on a task's last
// message (result or TaskCancelled) that no ACK opened.
func drain(t *testing.T, c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	open := map[uint64]int{} // ACKs not yet answered, by task id
	r := packets.NewFrameReader(c, 64<<10)
	for {
		m, err := r.Read()
		if err != nil {
			if errors.Is(err, packets.ErrMalformed) {
				t.Errorf("the slave wrote a malformed frame: %v", err)
			}
			_ = c.Close()
			return
		}
		var last uint64
		switch m := m.(type) {
		case packets.TaskAck:
			open[m.ID]++
			continue
		case packets.TaskResult:
			last = m.ID
		case packets.TaskCancelled:
			last = m.ID
		default:
			continue
		}
		if open[last]--; open[last] < 0 {
			t.Errorf("a last message for task %d, which has none open: %#v", last, m)
		}
	}
}

// FuzzSlaveTaskLink: whatever the master sends on the task link, the slave
// answers with well-formed frames, ends the link on a frame it does not
// take, and once its tasks are done holds no load.
func FuzzSlaveTaskLink(f *testing.F) {
	for _, seed := range [][]packets.Message{
		{packets.TaskRequest{ID: 1, Task: 1, N: 30}},
		{packets.TaskRequest{ID: 1, Task: 2, N: 100}, packets.TaskRequest{ID: 2, Task: 1, N: 20001}},
		{packets.TaskRequest{ID: 1, Task: 1, N: 5000}, packets.LeaveAck{}, packets.LeaveAck{}},
		{packets.TaskRequest{ID: 1, Task: 9, N: 1}, packets.LoadRequest{Seq: 1}},
		{packets.TaskRequest{ID: 1, Task: 2, N: 140}, packets.TaskCancel{ID: 1}, packets.TaskCancel{ID: 1}, packets.TaskCancel{ID: 9}},
		{packets.TaskRequest{ID: 1, Task: 1, N: 20000}, packets.TaskRequest{ID: 1, Task: 1, N: 20000}, packets.TaskCancel{ID: 1}},
		{packets.TaskInputRequest{ID: 4, Name: "echo", Input: []byte{0, 1, 2}}, packets.TaskCancel{ID: 4}},
	} {
		var b []byte
		for _, m := range seed {
			b = packets.Append(b, m)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		ss, master := fuzzSession()
		var wg sync.WaitGroup
		wg.Add(1)
		go drain(t, master[2], &wg)
		var tasks sync.WaitGroup
		done := make(chan error, 1)
		go func() { done <- ss.serveTasks(context.Background(), &tasks) }()
		_, _ = master[1].Write(stream)
		_ = master[1].Close()
		if err := <-done; err == nil {
			t.Fatal("serveTasks returned without an error")
		}
		tasks.Wait()
		ss.results.Close()
		ss.close()
		wg.Wait()
		if st := ss.s.exec.stats(); st.committed != 0 || st.admitted != 0 || st.busy != 0 || st.queued != 0 {
			t.Fatalf("after the link ended: %+v", st)
		}
	})
}

// FuzzSlaveLoadLink: the load link answers each load request with its
// report, in order, and ends on anything else.
func FuzzSlaveLoadLink(f *testing.F) {
	f.Add(packets.Append(packets.Encode(packets.LoadRequest{Seq: 1}), packets.LoadRequest{Seq: 2}))
	f.Add(packets.Append(packets.Encode(packets.LoadRequest{Seq: 7}), packets.TaskAck{ID: 1}))
	f.Add([]byte{packets.Version, byte(packets.TypeLoadRequest), 0, 0, 0, 4, 0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		ss, master := fuzzSession()
		want := requests(stream)
		answers := make(chan packets.Message, len(want)+1)
		go func() {
			defer close(answers)
			r := packets.NewFrameReader(master[0], 64<<10)
			for {
				m, err := r.Read()
				if err != nil {
					return
				}
				answers <- m
			}
		}()
		done := make(chan error, 1)
		go func() { done <- ss.serveLoad(context.Background(), nil) }()
		go func() { _, _ = master[0].Write(stream) }() // a pipe: written as the slave reads
		for i, seq := range want {
			select {
			case m := <-answers:
				if rep, ok := m.(packets.LoadReport); !ok || rep.Seq != seq {
					t.Fatalf("answer %d: %#v, want the report for poll %d", i, m, seq)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no answer to poll %d", seq)
			}
		}
		_ = master[0].Close()
		if err := <-done; err == nil {
			t.Fatal("serveLoad returned without an error")
		}
		for m := range answers {
			t.Fatalf("an answer to no poll: %#v", m)
		}
		ss.close()
	})
}

// requests lists the load requests at the start of stream, up to the first
// frame that is not one (which ends the link).
func requests(stream []byte) []uint32 {
	var seqs []uint32
	r := packets.NewFrameReader(bytes.NewReader(stream), 64<<10)
	for {
		m, err := r.Read()
		req, ok := m.(packets.LoadRequest)
		if err != nil || !ok {
			return seqs
		}
		seqs = append(seqs, req.Seq)
	}
}
