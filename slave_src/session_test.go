package slave

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/packets"
)

// masterEnd is the test's side of the three links, acting as the master.
type masterEnd struct {
	s                  *Slave
	load, task, result net.Conn
	loadR, resultR     *bufio.Reader
	stopSlave          context.CancelFunc // what SIGTERM does: the slave drains
}

func (m *masterEnd) read(t testing.TB, r *bufio.Reader) packets.Message {
	t.Helper()
	msg, err := packets.ReadFrame(r)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// connect starts a session on a fresh slave with the given max load and
// opens its links the way the master does. extra is written on the load
// link in the same Write as the hello.
func connect(t *testing.T, maxLoad uint64, extra packets.Message) *masterEnd {
	t.Helper()
	return connectPolling(t, maxLoad, extra, time.Second)
}

// connectPolling is connect with the poll interval the hellos announce.
func connectPolling(t *testing.T, maxLoad uint64, extra packets.Message, poll time.Duration) *masterEnd {
	t.Helper()
	return connectWith(t, func(o *Options) { o.MaxLoad = maxLoad }, extra, poll)
}

// connectWith is connect with the options set changes.
func connectWith(t testing.TB, set func(*Options), extra packets.Message, poll time.Duration) *masterEnd {
	t.Helper()
	o := NewOptions()
	o.Iface = "lo"
	o.Master = "127.0.0.1:9" // never contacted: the test opens the links itself
	o.CPUFraction = func() (float64, error) { return 0.25, nil }
	set(&o)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	master := discovery.Master{Addr: netip.MustParseAddrPort("127.0.0.1:3000"), Token: 42}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer s.closeSockets()
		ss, err := s.acceptLinks(ctx, master)
		if err != nil {
			t.Error(err)
			return
		}
		_ = ss.serve(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	dial := func(ln *net.TCPListener, kind packets.Link, extra packets.Message) net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		b := packets.Encode(packets.LinkHello{Token: 42, Link: kind, PollIntervalMillis: uint32(poll.Milliseconds())})
		if extra != nil {
			b = packets.Append(b, extra)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		return c
	}
	m := &masterEnd{
		s:      s,
		load:   dial(s.loadLn, packets.LinkLoad, extra),
		task:   dial(s.taskLn, packets.LinkTask, nil),
		result: dial(s.resultLn, packets.LinkResult, nil),
	}
	m.loadR, m.resultR = bufio.NewReader(m.load), bufio.NewReader(m.result)
	m.stopSlave = cancel
	return m
}

// The master sends its first poll right behind the hello; the slave must
// not swallow it while reading the hello.
func TestFirstPollRightAfterHello(t *testing.T) {
	m := connect(t, 1000, packets.LoadRequest{Seq: 7})
	_ = m.load.SetReadDeadline(time.Now().Add(5 * time.Second))
	rep, ok := m.read(t, m.loadR).(packets.LoadReport)
	if !ok || rep.Seq != 7 || rep.MaxLoad != 1000 || rep.Factor != 0.25 {
		t.Fatalf("got %+v, want the report for poll 7", rep)
	}
}

func TestTaskAdmission(t *testing.T) {
	m := connect(t, 1000, nil)
	send := func(req packets.TaskRequest) {
		if err := packets.NewWriter(m.task).Write(req); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.result.SetReadDeadline(time.Now().Add(10 * time.Second))
	tests := []struct {
		req    packets.TaskRequest
		accept bool
		body   string
	}{
		{packets.TaskRequest{ID: 1, Task: 1, N: 50}, true, "12586269025"},
		{packets.TaskRequest{ID: 2, Task: 1, N: 1001}, false, ""},    // load 1001 > max 1000
		{packets.TaskRequest{ID: 3, Task: 2, N: 31}, true, "11"},     // primes: load 961
		{packets.TaskRequest{ID: 4, Task: 2, N: 32}, false, ""},      // load 1024 > 1000
		{packets.TaskRequest{ID: 5, Task: 99, N: 1}, false, ""},      // unknown task
		{packets.TaskRequest{ID: 6, Task: 2, N: 1 << 40}, false, ""}, // n beyond MaxN
	}
	for _, tt := range tests {
		send(tt.req)
		msg := m.read(t, m.resultR)
		if !tt.accept {
			if nak, ok := msg.(packets.TaskNak); !ok || nak.ID != tt.req.ID || nak.Reason == "" {
				t.Errorf("task %d: got %#v, want a NAK with a reason", tt.req.ID, msg)
			}
			continue
		}
		if ack, ok := msg.(packets.TaskAck); !ok || ack.ID != tt.req.ID {
			t.Fatalf("task %d: got %#v, want an ACK", tt.req.ID, msg)
		}
		res, ok := m.read(t, m.resultR).(packets.TaskResult)
		if !ok || res.ID != tt.req.ID || !res.OK || res.Body != tt.body {
			t.Errorf("task %d: got %#v, want result %q", tt.req.ID, res, tt.body)
		}
	}
}

// A stopping slave says it is leaving, refuses new tasks, returns the result
// of the task it holds, and closes its links only once the master has
// answered that no more tasks follow.
func TestDrainFinishesHeldTasks(t *testing.T) {
	m := connect(t, 1<<40, nil)
	tasks := packets.NewWriter(m.task)
	_ = m.result.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := tasks.Write(packets.TaskRequest{ID: 1, Task: 2, N: 30000}); err != nil { // primes: tens of ms
		t.Fatal(err)
	}
	if ack, ok := m.read(t, m.resultR).(packets.TaskAck); !ok || ack.ID != 1 {
		t.Fatalf("got %#v, want the ACK of task 1", ack)
	}
	m.stopSlave()
	// The task may finish before the slave is told to stop: its result then
	// comes before Leaving.
	var gotResult, gotNak bool
	checkResult := func(msg packets.TaskResult) {
		if msg.ID != 1 || msg.Body != "3245" {
			t.Fatalf("result %#v, want task 1 = 3245", msg)
		}
		gotResult = true
	}
	for leaving := false; !leaving; {
		switch msg := m.read(t, m.resultR).(type) {
		case packets.Leaving:
			leaving = true
		case packets.TaskResult:
			checkResult(msg)
		default:
			t.Fatalf("got %#v, want Leaving", msg)
		}
	}
	if err := tasks.Write(packets.TaskRequest{ID: 2, Task: 1, N: 10}); err != nil {
		t.Fatal(err)
	}
	if err := tasks.Write(packets.LeaveAck{}); err != nil { // no task after this one
		t.Fatal(err)
	}
	for !gotResult || !gotNak {
		switch msg := m.read(t, m.resultR).(type) {
		case packets.TaskResult:
			checkResult(msg)
		case packets.TaskNak:
			if msg.ID != 2 || msg.Reason != "the slave is leaving" {
				t.Fatalf("NAK %#v, want task 2 refused because the slave is leaving", msg)
			}
			gotNak = true
		default:
			t.Fatalf("unexpected %#v while draining", msg)
		}
	}
	if _, err := packets.ReadFrame(m.resultR); err == nil {
		t.Fatal("the result link stayed open after the drain")
	}
}
