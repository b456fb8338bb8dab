package master_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/testutil"
)

// A draining slave whose load link falls silent (a busy host, a stalled
// process) still delivers its last results on the result link: the master
// waits for them instead of taking the slave for unresponsive and
// re-dispatching its tasks. The rolling-restart fault test rests on it.
func TestDrainingSlaveSilentOnItsLoadLinkKeepsItsTasks(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.PollInterval, o.PollTimeout = 50*time.Millisecond, 200*time.Millisecond
	o.QueueWait, o.TaskTimeout = time.Second, 5*time.Second // a re-dispatch finds no slave: it fails fast
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	h := newHandNode(t, m.DiscoveryAddr())
	token := h.wantAccept(false)
	l := listenLinks(t)
	h.send(l.confirm(token, loopback))
	conns := l.accept(t, token)
	load, task, result := conns[0], conns[1], conns[2]
	answerFirstPoll(t, load)
	silent := make(chan struct{})
	polled := make(chan struct{}, 1) // a poll came after silent: it goes unanswered
	go answerPollsUntil(load, silent, polled)
	testutil.WaitFor(t, 10*time.Second, "the slave in the pool", func() bool { return m.Slaves() == 1 })

	type answer struct {
		code int
		body string
	}
	got := make(chan answer, 1)
	go func() {
		code, _, body := testutil.Get(t, base+"/fibonacci?n=10", "")
		got <- answer{code, body}
	}()
	_ = task.SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := packets.ReadFrame(task)
	req, ok := msg.(packets.TaskRequest)
	if err != nil || !ok {
		t.Fatalf("task link: %#v, %v; want the task request", msg, err)
	}
	w := packets.NewWriter(result)
	if err := w.Write(packets.TaskAck{ID: req.ID}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(packets.Leaving{}); err != nil {
		t.Fatal(err)
	}
	if msg, err := packets.ReadFrame(task); err != nil || msg != (packets.LeaveAck{}) {
		t.Fatalf("task link after Leaving: %#v, %v; want the LeaveAck", msg, err)
	}
	close(silent)
	<-polled
	// Past the poll timeout and the master's wait after it.
	time.Sleep(3 * o.PollTimeout)
	if err := w.Write(packets.TaskResult{ID: req.ID, OK: true, Body: "55"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	a := <-got
	if a.code != 200 || !strings.Contains(a.body, "55") {
		t.Fatalf("the task's answer: %d %q; want the draining slave's result", a.code, a.body)
	}
	if n := metricValue(t, base, "master_tasks_redispatched_total"); n != 0 {
		t.Fatalf("master_tasks_redispatched_total %v, want 0", n)
	}
	testutil.WaitFor(t, 10*time.Second, "the slave gone", func() bool { return m.Slaves() == 0 })
	_, _, body := testutil.Get(t, base+"/api/slaves", "")
	if !strings.Contains(body, `"lost_cause":"drained"`) {
		t.Fatalf("the slave's loss: %s; want lost_cause drained", body)
	}
}

// answerPollsUntil answers load polls until silent closes; the first poll
// after that it leaves unanswered, and says so on polled.
func answerPollsUntil(load net.Conn, silent <-chan struct{}, polled chan<- struct{}) {
	_ = load.SetDeadline(time.Time{})
	w := packets.NewWriter(load)
	for {
		msg, err := packets.ReadFrame(load)
		req, ok := msg.(packets.LoadRequest)
		if err != nil || !ok {
			return
		}
		select {
		case <-silent:
			polled <- struct{}{}
			return
		default:
		}
		if err := w.Write(packets.LoadReport{Seq: req.Seq, MaxLoad: 1 << 40}); err != nil {
			return
		}
	}
}
