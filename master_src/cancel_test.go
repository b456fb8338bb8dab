package master_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	master "github.com/lbproject/loadbalancer/master_src"
	"github.com/lbproject/loadbalancer/testutil"
)

// Cancels, hedges and ejections, against fake slaves that never answer.

// slaveAt is the slave with that IP in /api/slaves.
func slaveAt(t *testing.T, base, ip string) obj {
	t.Helper()
	for _, s := range getAPI(t, base+"/api/slaves", 200).Objects(t, "slaves") {
		if s.Str(t, "ip") == ip {
			return s
		}
	}
	t.Fatalf("no slave %s in /api/slaves", ip)
	return nil
}

func waitCancel(t *testing.T, cancels <-chan uint64) {
	t.Helper()
	select {
	case <-cancels:
	case <-time.After(10 * time.Second):
		t.Fatal("the slave got no TaskCancel")
	}
}

func startFake(t *testing.T, m *master.Master, ip string, b testutil.FakeBehaviour) <-chan uint64 {
	t.Helper()
	cancels := make(chan uint64, 64)
	n := m.Slaves()
	testutil.StartFakeSlaveWith(t, testutil.FakeSlave{IP: ip, Discovery: m.DiscoveryAddr().String(), MaxLoad: 1 << 62,
		Behaviour: b, Cancels: cancels})
	testutil.WaitFor(t, 10*time.Second, "fake slave", func() bool { return m.Slaves() == n+1 })
	return cancels
}

// A client that leaves gets its task cancelled on the slave; the task's
// reservation there ends when the slave answers TaskCancelled.
func TestCancelWhenClientLeaves(t *testing.T) {
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	base := "http://" + m.HTTPAddr().String()
	cancels := startFake(t, m, "127.0.0.1", testutil.FakeSilent)

	ctx, leave := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/fibonacci?n=5", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("the request was answered: %s", resp.Status)
		}
	}()
	testutil.WaitFor(t, 10*time.Second, "the task on the slave", func() bool {
		return slaveAt(t, base, "127.0.0.1").Num(t, "tasks_in_flight") == 1
	})
	leave()
	<-done
	waitCancel(t, cancels)
	testutil.WaitFor(t, 10*time.Second, "the reservation freed on TaskCancelled", func() bool {
		s := slaveAt(t, base, "127.0.0.1")
		return s.Num(t, "tasks_in_flight") == 0 && s.Num(t, "committed_load") == 0
	})
	if s := slaveAt(t, base, "127.0.0.1"); s.Num(t, "tasks_cancelled") != 1 {
		t.Errorf("slave tasks_cancelled %v, want 1", s["tasks_cancelled"])
	}
	if n := getAPI(t, base+"/api/status", 200).Num(t, "tasks_cancelled"); n != 1 {
		t.Errorf("status tasks_cancelled %v, want 1", n)
	}
	if v := metricValue(t, base, "master_tasks_cancelled_total"); v != 1 {
		t.Errorf("master_tasks_cancelled_total %v, want 1", v)
	}
}

// A task that times out is cancelled, and a slave that does not answer the
// cancel keeps its reservation: the master's view stays what the slave holds.
func TestCancelWhenTaskTimesOut(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.TaskTimeout = 300 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	cancels := startFake(t, m, "127.0.0.1", testutil.FakeDeaf)
	if status, _, body := testutil.Get(t, base+"/fibonacci?n=5", ""); status != http.StatusGatewayTimeout {
		t.Fatalf("status %d %q, want 504", status, body)
	}
	waitCancel(t, cancels)
	if s := slaveAt(t, base, "127.0.0.1"); s.Num(t, "tasks_in_flight") != 1 || s.Num(t, "tasks_cancelled") != 1 {
		t.Fatalf("after a cancel the slave did not answer: %v in flight, %v cancelled; want 1 and 1",
			s["tasks_in_flight"], s["tasks_cancelled"])
	}
}

// warmUp runs enough tasks for the master to know fibonacci's round trips
// (so its tries time out early), on the slaves in the pool now.
func warmUp(t *testing.T, base string) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if status, _, body := testutil.Get(t, base+"/fibonacci?n=90", ""); status != 200 {
			t.Fatalf("warm-up: %d %q", status, body)
		}
	}
}

// A slave that ACKs and never answers: its task is also sent to another
// slave, which answers; the slow one is cancelled.
func TestHedgeWinsOnAnotherSlave(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "round_robin"
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	warmUp(t, base)
	cancels := startFake(t, m, "127.0.0.2", testutil.FakeSilent)
	for i := 0; i < 4; i++ { // round robin: two go to the silent slave first
		if status, _, body := testutil.Get(t, base+"/fibonacci?n=90", ""); status != 200 || body != "2880067194370816120\n" {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
	waitCancel(t, cancels)
	if n := getAPI(t, base+"/api/status", 200).Num(t, "tasks_hedged"); n < 1 || n > 4 {
		t.Errorf("tasks_hedged %v, want 1 to 4 (at most one hedge per task)", n)
	}
	if v := metricValue(t, base, "master_tasks_hedged_total"); v < 1 {
		t.Errorf("master_tasks_hedged_total %v", v)
	}
	if s := slaveAt(t, base, "127.0.0.2"); s.Num(t, "tasks_done") != 0 || s.Num(t, "tasks_hedged") != 0 {
		t.Errorf("silent slave: %v done, %v hedged; want 0 and 0", s["tasks_done"], s["tasks_hedged"])
	}
	testutil.WaitFor(t, 10*time.Second, "the silent slave's cancelled tasks freed", func() bool {
		return slaveAt(t, base, "127.0.0.2").Num(t, "tasks_in_flight") == 0
	})
}

// A task goes to two slaves at most: when the hedge's try times out too, no
// third try goes out, and the task ends at the task timeout.
func TestHedgeOnlyOnce(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "round_robin"
	o.EjectAfter = 0                          // the silent slaves stay candidates
	o.TryTimeoutFloor = 50 * time.Millisecond // a type with no result yet: 500 ms per try
	o.TaskTimeout = 1600 * time.Millisecond   // room for three tries of 500 ms
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		startFake(t, m, ip, testutil.FakeSilent)
	}
	if status, _, body := testutil.Get(t, base+"/fibonacci?n=90", ""); status != http.StatusGatewayTimeout {
		t.Fatalf("every slave silent: %d %q, want 504", status, body)
	}
	if v := metricValue(t, base, "master_tasks_hedged_total"); v != 1 {
		t.Errorf("master_tasks_hedged_total %v, want 1: a task is hedged once", v)
	}
}

// A task refused by the only slave with room waits for room to change, up
// to the task timeout: then it is a timeout (504), not "no room" (503),
// since it was dispatched once.
func TestRefusedTaskTimesOut(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.TaskTimeout = 500 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	startFake(t, m, "127.0.0.2", testutil.FakeRefuse)
	if status, _, body := testutil.Get(t, base+"/fibonacci?n=90", ""); status != http.StatusGatewayTimeout {
		t.Fatalf("refused by the only slave: %d %q, want 504 after the task timeout", status, body)
	}
}

// A slave that answers load polls but never returns results is ejected
// after -eject-after timed-out tries in a row, listed as ejected, and comes
// back by itself after -eject-base; no request fails meanwhile.
func TestDeafSlaveEjectedAndReturns(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm = "round_robin"
	o.EjectAfter, o.EjectBase = 2, 500*time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	warmUp(t, base)
	startFake(t, m, "127.0.0.2", testutil.FakeDeaf)
	ejected := false
	for i := 0; i < 20 && !ejected; i++ {
		if status, _, body := testutil.Get(t, base+"/fibonacci?n=90", ""); status != 200 {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
		ejected = slaveAt(t, base, "127.0.0.2").Str(t, "state") == "ejected"
	}
	if !ejected {
		t.Fatal("the deaf slave was never ejected")
	}
	if v := metricValue(t, base, "master_slaves_ejected"); v != 1 {
		t.Errorf("master_slaves_ejected %v, want 1", v)
	}
	if v := metricValue(t, base, "master_ejections_total"); v != 1 {
		t.Errorf("master_ejections_total %v, want 1", v)
	}
	st := getAPI(t, base+"/api/status", 200)
	if st.Num(t, "slaves_ejected") != 1 || st.Num(t, "ejections") != 1 {
		t.Errorf("status: slaves_ejected %v, ejections %v; want 1 and 1", st["slaves_ejected"], st["ejections"])
	}
	testutil.WaitFor(t, 10*time.Second, "the deaf slave back", func() bool {
		return slaveAt(t, base, "127.0.0.2").Str(t, "state") == "serving"
	})
	if s := slaveAt(t, base, "127.0.0.2"); s.Num(t, "ejections") != 1 {
		t.Errorf("ejections %v, want 1", s["ejections"])
	}
}

// The README's row "one slave answers load polls but never returns
// results": with 2 real slaves and such a fake one, 300 requests from 4
// clients all succeed (before hedging and ejection, every third waited the
// whole task timeout and got 504). It logs the figures the README quotes.
func TestDeafSlaveLosesNothing(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm, o.TaskTimeout = "round_robin", 5*time.Second
	o.Log = testutil.Logger(t, "master", "warning")
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	for i := 0; i < 2; i++ {
		so := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
		so.Log = testutil.Logger(t, "slave", "warning")
		testutil.StartSlave(t, so)
	}
	testutil.WaitFor(t, 10*time.Second, "slaves", func() bool { return m.Slaves() == 2 })
	startFake(t, m, "127.0.0.2", testutil.FakeDeaf)
	const requests, clients = 300, 4
	next := make(chan struct{}, requests)
	for i := 0; i < requests; i++ {
		next <- struct{}{}
	}
	close(next)
	var mu sync.Mutex
	var slowest time.Duration
	failed := make(chan string, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			for range next {
				t0 := time.Now()
				status, _, body, err := testutil.Fetch(base+"/fibonacci?n=90", "")
				if err != nil || status != 200 || body != "2880067194370816120\n" {
					failed <- fmt.Sprintf("%v %d %q", err, status, body)
					return
				}
				mu.Lock()
				slowest = max(slowest, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Fatalf("a request failed: %s", f)
	}
	st := getAPI(t, base+"/api/status", 200)
	t.Logf("%d requests in %s, slowest %s; %v hedged, %v ejections", requests, time.Since(start).Round(time.Millisecond),
		slowest.Round(time.Millisecond), st["tasks_hedged"], st["ejections"])
	if st.Num(t, "ejections") != 1 || st.Num(t, "tasks_hedged") < 1 {
		t.Fatalf("ejections %v, hedged %v; want 1 and at least 1", st["ejections"], st["tasks_hedged"])
	}
	if s := slaveAt(t, base, "127.0.0.2"); s.Num(t, "tasks_in_flight") > 64 {
		t.Fatalf("the deaf slave holds %v unfinished tasks, past the bound of 64", s["tasks_in_flight"])
	}
}
