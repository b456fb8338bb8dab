// Package testutil starts masters and slaves inside a test process, on
// loopback, and stops them when the test ends.
package testutil

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	master "github.com/lbproject/loadbalancer/master_src"
	slave "github.com/lbproject/loadbalancer/slave_src"
)

// Logger returns a logger that writes to the test log at the given level.
func Logger(t testing.TB, module, level string) *logger.Logger {
	l, err := logger.New(module, tlogWriter{t}, level)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// MasterOptions are defaults for a master on loopback: ephemeral ports,
// fast polls.
func MasterOptions(t testing.TB) master.Options {
	o := master.NewOptions()
	o.HTTPAddr = "127.0.0.1:0"
	o.DiscoveryAddr = "127.0.0.1:0"
	o.PollInterval = 100 * time.Millisecond
	o.PollTimeout = 5 * time.Second // generous: a busy CI machine must not drop live slaves
	// On loopback every node has the same source IP: no per-source limit.
	o.HandshakeRate, o.HandshakeBurst = 1e6, 1e6
	o.Log = Logger(t, "master", "info")
	return o
}

// Node is a running daemon.
type Node struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Stop ends the daemon and waits for Run to return.
func (n *Node) Stop() {
	n.once.Do(func() {
		n.cancel()
		<-n.done
	})
}

// Run runs a daemon's Run function until the test ends.
func Run(t testing.TB, f func(context.Context) error) *Node {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		if err := f(ctx); err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	t.Cleanup(n.Stop)
	return n
}

// StartMaster starts a master; it stops when the test ends.
func StartMaster(t testing.TB, o master.Options) (*master.Master, *Node) {
	t.Helper()
	m, err := master.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m, Run(t, m.Run)
}

// SlaveOptions are defaults for a slave on loopback that joins the master
// at discovery by unicast.
func SlaveOptions(t testing.TB, discovery string) slave.Options {
	o := slave.NewOptions()
	o.Iface = "lo"
	o.Master = discovery
	o.MetricsAddr = "127.0.0.1:0"
	o.JoinFirstWait = 50 * time.Millisecond
	o.JoinMaxWait = 500 * time.Millisecond
	o.CPUFraction = func() (float64, error) { return 0.5, nil }
	o.Log = Logger(t, "slave", "info")
	return o
}

// StartSlave starts a slave; it stops when the test ends.
func StartSlave(t testing.TB, o slave.Options) (*slave.Slave, *Node) {
	t.Helper()
	s, err := slave.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, Run(t, s.Run)
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Get fetches url with an optional Accept header and returns the status
// and body. Connections are not kept alive, so nothing outlives the test.
func Get(t testing.TB, url, accept string) (int, http.Header, string) {
	t.Helper()
	status, hdr, body, err := Fetch(url, accept)
	if err != nil {
		t.Fatal(err)
	}
	return status, hdr, body
}

// Fetch is Get for any goroutine: it returns the error instead.
func Fetch(url, accept string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	return resp.StatusCode, resp.Header, string(body), nil
}
