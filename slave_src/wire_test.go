package slave

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	sigar "github.com/cloudfoundry/gosigar"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// The limits are inclusive: a load equal to the max load, and n equal to a
// task's MaxN, are admitted; one more is not.
func TestAdmissionBoundaries(t *testing.T) {
	t.Parallel()
	fib, _ := tasks.ByName("fibonacci")
	for _, tc := range []struct {
		name    string
		maxLoad uint64
		n       uint64
		admit   bool
	}{
		{"load equal to the max load", 1000, 1000, true},
		{"load one past the max load", 999, 1000, false},
		{"n at MaxN", 1 << 62, fib.MaxN, true},
		{"n at MaxN+1", 1 << 62, fib.MaxN + 1, false},
	} {
		e := &executor{maxLoad: tc.maxLoad, metrics: newMetrics(tc.maxLoad)}
		j, err := e.admitBuiltin(packets.TaskRequest{ID: 1, Task: fib.Code, N: tc.n})
		if (err == nil) != tc.admit {
			t.Errorf("%s: admit = %v, want admitted %v", tc.name, err, tc.admit)
		}
		if committed := e.stats().committed; tc.admit && committed != j.load || !tc.admit && committed != 0 {
			t.Errorf("%s: committed %d after admit", tc.name, committed)
		}
	}
}

// A load report is committed load × the metric's factor, with the tasks
// held; a metric that fails reports the committed load alone (factor 1).
func TestLoadReport(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.MaxLoad = 1 << 20
	s := &Slave{opts: o, metrics: newMetrics(o.MaxLoad)}
	s.exec = &executor{maxLoad: o.MaxLoad, metrics: s.metrics}
	for _, n := range []uint64{100, 300} {
		if _, err := s.exec.admitBuiltin(packets.TaskRequest{Task: 1, N: n}); err != nil {
			t.Fatal(err)
		}
	}
	s.cpu = func() (float64, error) { return 0.25, nil }
	want := packets.LoadReport{Seq: 9, Load: 100, Factor: 0.25, Committed: 400, MaxLoad: 1 << 20, Tasks: 2}
	if got := s.report(9); got != want {
		t.Fatalf("report = %+v, want %+v", got, want)
	}
	if g := value(s.metrics.load); g != 100 {
		t.Fatalf("current_load %v, want 100", g)
	}
	s.cpu = func() (float64, error) { return 0, errors.New("no /proc") }
	want = packets.LoadReport{Seq: 10, Load: 400, Factor: 1, Committed: 400, MaxLoad: 1 << 20, Tasks: 2}
	if got := s.report(10); got != want {
		t.Fatalf("report with the metric failing = %+v, want %+v", got, want)
	}
}

// The counters follow what the slave did: requested, refused, completed,
// the committed load back to 0, and the task's time observed.
func TestSessionMetrics(t *testing.T) {
	m := connect(t, 1000, nil)
	w := packets.NewWriter(m.task)
	_ = m.result.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, req := range []packets.TaskRequest{{ID: 1, Task: 1, N: 20}, {ID: 2, Task: 1, N: 5000}, {ID: 3, Task: 2, N: 30}} {
		if err := w.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	results := 0
	for results < 2 {
		if _, ok := m.read(t, m.resultR).(packets.TaskResult); ok {
			results++
		}
	}
	met := m.s.metrics
	testWaitFor(t, "the counters", func() bool { return value(met.completed) == 2 })
	for name, c := range map[string]struct{ got, want float64 }{
		"tasks_requested":           {value(met.requested), 3},
		"slave_tasks_refused_total": {value(met.refused), 1},
		"slave_committed_load":      {value(met.committed), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if n := series(t, met.registry, "slave_task_duration_seconds"); n != 2 {
		t.Errorf("slave_task_duration_seconds has %d series, want fibonacci and primes", n)
	}
}

func testWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("link reset") }

// A task admitted when its ACK cannot be queued (the result link failed)
// gives its load back: a reservation never released would leave the slave
// full for good.
func TestFailedAckReleasesTheLoad(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.MaxLoad = 1000
	s := &Slave{opts: o, metrics: newMetrics(o.MaxLoad)}
	s.exec = &executor{maxLoad: o.MaxLoad, metrics: s.metrics}
	ss := &session{s: s, results: packets.NewBatchWriter(failingWriter{}), running: map[uint64]context.CancelCauseFunc{}}
	_ = ss.results.Write(packets.Leaving{}) // the link fails
	for _, n := range []uint64{500, 5000} { // the cheap lane and a worker
		var wg sync.WaitGroup
		req := packets.TaskRequest{ID: n, Task: 1, N: n}
		if err := ss.accept(context.Background(), req.ID, func() (job, error) { return s.exec.admitBuiltin(req) }, &wg); err == nil {
			t.Fatal("accept succeeded with the result link down")
		}
		wg.Wait() // not counted as a task either
		if st := s.exec.stats(); st.committed != 0 || st.admitted != 0 || len(ss.running) != 0 {
			t.Fatalf("n=%d: %+v, %d cancellable after the failed ACK; want the load released", n, st, len(ss.running))
		}
	}
}

// A master that stops polling is taken as gone after MissedPolls intervals
// plus a second: the session ends and its links close.
func TestSilentMasterEndsTheSession(t *testing.T) {
	const poll = 50 * time.Millisecond
	m := connectPolling(t, 1000, nil, poll)
	start := time.Now()
	_ = m.result.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, m.result); err != nil {
		t.Fatalf("the links of a silent master: %v, want them closed", err)
	}
	// The silence is counted from the last poll, which came up to one
	// interval before start.
	silence := time.Duration(NewOptions().MissedPolls)*poll + time.Second
	if d := time.Since(start); d < silence-poll {
		t.Fatalf("the session ended after %s, before %s of silence", d, silence)
	}
}

// A frame other than a load request on the load link, or any byte on the
// result link (the master never writes there), ends the session.
func TestUnexpectedBytesEndTheSession(t *testing.T) {
	for name, write := range map[string]func(m *masterEnd) error{
		"a task ACK on the load link": func(m *masterEnd) error {
			return packets.NewWriter(m.load).Write(packets.TaskAck{ID: 1})
		},
		"a byte on the result link": func(m *masterEnd) error {
			_, err := m.result.Write([]byte{0})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := connectPolling(t, 1000, nil, time.Hour) // no silence timeout within the test
			if err := write(m); err != nil {
				t.Fatal(err)
			}
			_ = m.task.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := m.task.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("the task link after %s: %v, want it closed", name, err)
			}
		})
	}
}

// Until the master answers Leaving, a task request may still be on its way:
// the draining slave keeps its links and refuses it, then closes.
func TestDrainWaitsForTheLeaveAck(t *testing.T) {
	m := connect(t, 1000, packets.LoadRequest{Seq: 1})
	_ = m.load.SetReadDeadline(time.Now().Add(10 * time.Second))
	m.read(t, m.loadR) // answered: the session is being served
	_ = m.result.SetReadDeadline(time.Now().Add(10 * time.Second))
	m.stopSlave()
	if msg := m.read(t, m.resultR); msg != (packets.Leaving{}) {
		t.Fatalf("got %#v, want Leaving", msg)
	}
	w := packets.NewWriter(m.task)
	if err := w.Write(packets.TaskRequest{ID: 5, Task: 1, N: 10}); err != nil {
		t.Fatal(err)
	}
	if nak, ok := m.read(t, m.resultR).(packets.TaskNak); !ok || nak.ID != 5 {
		t.Fatalf("got %#v, want task 5 refused", nak)
	}
	if err := w.Write(packets.LeaveAck{}); err != nil {
		t.Fatal(err)
	}
	if _, err := packets.ReadFrame(m.resultR); !errors.Is(err, io.EOF) {
		t.Fatalf("after the LeaveAck: %v, want the links closed", err)
	}
}

// A metrics listener on every address is published as the interface's
// address; one on a given address as that address.
func TestMetricsEndpoint(t *testing.T) {
	for _, tc := range []struct{ listen, wantIP string }{
		{"0.0.0.0:0", "127.0.0.1"},
		{"127.0.0.2:0", "127.0.0.2"},
	} {
		o := NewOptions()
		o.Iface, o.Master, o.MetricsAddr = "lo", "127.0.0.1:9", tc.listen
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		got := s.metricsEndpoint()
		s.closeSockets()
		if got.Addr() != netip.MustParseAddr(tc.wantIP) || got.Port() == 0 {
			t.Errorf("metrics on %s published as %s, want %s and its port", tc.listen, got, tc.wantIP)
		}
	}
}

// The slave's confirm tells the master where each link and /metrics are.
func TestJoinConfirmNamesTheListeners(t *testing.T) {
	master, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	o := NewOptions()
	o.Iface, o.Master, o.MetricsAddr, o.TargetDir = "lo", master.LocalAddr().String(), "127.0.0.1:0", ""
	o.JoinFirstWait, o.LinkTimeout = 20*time.Millisecond, 100*time.Millisecond
	o.Log = logger.Discard()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	buf := make([]byte, 1500)
	_ = master.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, from, err := master.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := packets.Decode(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		switch msg := msg.(type) {
		case packets.JoinRequest:
			if from.Port() != s.ID() {
				t.Fatalf("join request from port %d, want the slave's ID %d", from.Port(), s.ID())
			}
			if _, err := master.WriteToUDPAddrPort(packets.Encode(packets.JoinReply{Accepted: true, Token: 5}), from); err != nil {
				t.Fatal(err)
			}
		case packets.SlaveJoinConfirm:
			want := packets.SlaveJoinConfirm{Token: 5, IP: netip.MustParseAddr("127.0.0.1"),
				LoadPort: port(s.loadLn), TaskPort: port(s.taskLn), ResultPort: port(s.resultLn),
				MetricsPort: s.metricsEndpoint().Port()}
			if msg != want {
				t.Fatalf("confirm %+v, want %+v", msg, want)
			}
			return
		}
	}
}

// The workers metric spreads the committed load over the workers; with no
// cap it is 1.
func TestWorkersMetric(t *testing.T) {
	t.Parallel()
	for workers, want := range map[int]float64{0: 1, 1: 1, 4: 0.25} {
		f, err := newLoadMetric("workers", workers)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := f(); got != want {
			t.Errorf("workers metric with %d workers = %v, want %v", workers, got, want)
		}
	}
}

// Counters that went back (a counter reset) give 0, even when idle time
// did not move.
func TestBusyBetweenCountersReset(t *testing.T) {
	t.Parallel()
	if got := busyBetween(sigar.Cpu{User: 50, Idle: 10}, sigar.Cpu{User: 10, Idle: 10}); got != 0 {
		t.Fatalf("busyBetween after a reset = %v, want 0", got)
	}
}

// value reads a counter or a gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// series counts the series of the metric name in r.
func series(t *testing.T, r *prometheus.Registry, name string) int {
	t.Helper()
	families, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.Metric)
		}
	}
	return 0
}

// A task too heavy to compute on the reading goroutine goes to a worker of
// its own: a cheap task sent right behind it is answered first.
func TestHeavyTaskDoesNotHoldUpTheLink(t *testing.T) {
	m := connect(t, 1<<40, nil)
	_ = m.result.SetReadDeadline(time.Now().Add(20 * time.Second))
	b := packets.Encode(packets.TaskRequest{ID: 1, Task: 2, N: 60000}) // primes: a few hundred ms
	b = packets.Append(b, packets.TaskRequest{ID: 2, Task: 1, N: 10})
	if _, err := m.task.Write(b); err != nil {
		t.Fatal(err)
	}
	for {
		if res, ok := m.read(t, m.resultR).(packets.TaskResult); ok {
			if res.ID != 2 {
				t.Fatalf("first result: task %d, want the cheap task 2 before the heavy task 1", res.ID)
			}
			return
		}
	}
}

// New failing part way (its metrics address taken) returns the error and
// closes what it had opened, instead of crashing on the sockets it had not.
func TestNewFailsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	o := NewOptions()
	o.Iface, o.Master, o.MetricsAddr = "lo", "127.0.0.1:9", taken.Addr().String()
	if s, err := New(o); err == nil {
		s.closeSockets()
		t.Fatal("New succeeded on a metrics address in use")
	}
}

// The load report carries what the workers do, as the executor counts it;
// figures beyond their field's range are capped, not wrapped.
func TestLoadReportWorkers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(e *executor)
		want packets.LoadReport
	}{
		{"no worker cap", func(e *executor) { e.busy, e.completed = 3, 4 }, packets.LoadReport{Busy: 3, Completed: 4}},
		{"two workers, one queued", func(e *executor) {
			e.workers = make(chan struct{}, 2)
			e.busy, e.queued, e.completed, e.busyMicros = 2, 1, 7, 1234
		}, packets.LoadReport{Workers: 2, Busy: 2, Queued: 1, Completed: 7, BusyMicros: 1234}},
		{"capped", func(e *executor) {
			e.workers = make(chan struct{}, 70000)
			e.busy = 70000
		}, packets.LoadReport{Workers: math.MaxUint16, Busy: math.MaxUint16}},
	} {
		o := NewOptions()
		s := &Slave{opts: o, metrics: newMetrics(o.MaxLoad), cpu: func() (float64, error) { return 1, nil }}
		s.exec = &executor{maxLoad: o.MaxLoad, metrics: s.metrics}
		tc.set(s.exec)
		got := s.report(1)
		tc.want.Seq, tc.want.Factor, tc.want.MaxLoad = 1, 1, o.MaxLoad
		if got != tc.want {
			t.Errorf("%s: report %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
