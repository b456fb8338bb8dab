package master_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	master "github.com/lbproject/loadbalancer/master_src"
	"github.com/lbproject/loadbalancer/testutil"
)

// A client that gives up while its request waits for room leaves the
// queue at once.
func TestClientLeavingFreesItsQueuePlace(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.QueueWait = time.Minute
	m, _ := testutil.StartMaster(t, o)
	so := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
	so.MaxLoad = 100 // room for fibonacci n ≤ 100 only
	testutil.StartSlave(t, so)
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	base := "http://" + m.HTTPAddr().String()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/fibonacci?n=101", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	queue := func() float64 { return metricValue(t, base, "master_queue_length") }
	testutil.WaitFor(t, 10*time.Second, "the request to queue", func() bool { return queue() == 1 })
	cancel()
	<-done
	testutil.WaitFor(t, 5*time.Second, "the queue to empty", func() bool { return queue() == 0 })
}

// A client that sends its headers too slowly (slowloris) is cut off.
func TestSlowHeadersCutOff(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.ReadHeaderTimeout = 300 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	c, err := net.Dial("tcp", m.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /ok HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers never finished
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(c).ReadString('\n')
	if err == nil {
		// Go's server may answer 408 first; the connection must then close.
		_, err = bufio.NewReader(c).ReadString(0)
	}
	if d := time.Since(start); err == nil || d > 5*time.Second {
		t.Fatalf("slow client kept its connection for %s (err %v)", d, err)
	}
}

// A flood of heavy tasks must not starve the slave's load link: with the
// default worker cap the slave keeps answering polls within the default
// -poll-timeout and is never taken for dead, so nothing is lost or
// re-dispatched. (Uncapped, 300 computing goroutines on 2 cores leave the
// load link a turn every few seconds.) The master's bound on a slave's
// unfinished tasks is off, so that the whole flood reaches the slave.
func TestTaskFloodKeepsSlaveAlive(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.SlaveMaxUnfinished = 0
	o.PollInterval, o.PollTimeout = 100*time.Millisecond, master.NewOptions().PollTimeout
	m, _ := testutil.StartMaster(t, o)
	so := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
	// The test is about the master's verdict. The slave's own, 3 missed
	// polls of 100 ms plus 1 s, is shorter than the stalls of a loaded
	// 2-core host under -race (seen: the slave left at 1.3 s of silence,
	// its load link reader starved): 30 polls keep it out of the picture.
	so.MissedPolls = 30
	testutil.StartSlave(t, so)
	testutil.WaitFor(t, 10*time.Second, "slave", func() bool { return m.Slaves() == 1 })
	base := "http://" + m.HTTPAddr().String()
	const flood = 300
	errs := make(chan string, flood)
	for i := 0; i < flood; i++ {
		go func() {
			status, _, body, err := testutil.Fetch(base+"/primes?n=20000", "")
			if err != nil || status != 200 || body != "2262\n" {
				errs <- fmt.Sprintf("%v %d %q", err, status, body)
				return
			}
			errs <- ""
		}()
	}
	for i := 0; i < flood; i++ {
		if e := <-errs; e != "" {
			t.Fatalf("request %d: %s", i, e)
		}
	}
	if v := metricValue(t, base, "master_tasks_redispatched_total"); v != 0 {
		t.Fatalf("%v tasks re-dispatched: the slave was taken for dead under the flood", v)
	}
}

// getFrom sends GET url from source address src (any 127.x.y.z works on
// Linux loopback), so that tests can be several clients.
func getFrom(ctx context.Context, src, url string) (*http.Response, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return tr.RoundTrip(req)
}

// A client with -client-max-queued requests waiting gets 429 with
// Retry-After; another client still queues.
func TestClientQueueCap(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.QueueWait, o.ClientMaxQueued = time.Minute, 1
	m, _ := testutil.StartMaster(t, o) // no slave: every request waits
	base := "http://" + m.HTTPAddr().String()
	queue := func() float64 { return metricValue(t, base, "master_queue_length") }

	ctx, cancel := context.WithCancel(context.Background())
	var waiting sync.WaitGroup
	defer waiting.Wait()
	defer cancel()
	wait := func(src string) {
		waiting.Add(1)
		go func() {
			defer waiting.Done()
			if resp, err := getFrom(ctx, src, base+"/fibonacci?n=5"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wait("127.0.0.1")
	testutil.WaitFor(t, 10*time.Second, "the first request to queue", func() bool { return queue() == 1 })

	resp, err := getFrom(context.Background(), "127.0.0.1", base+"/fibonacci?n=5")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request of the client: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if v := metricValue(t, base, `master_requests_total{code="429",task="fibonacci"}`); v != 1 {
		t.Fatalf("%v requests counted as 429, want 1", v)
	}

	wait("127.0.0.2")
	testutil.WaitFor(t, 10*time.Second, "another client's request to queue", func() bool { return queue() == 2 })
}
