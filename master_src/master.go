package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/common/webui"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// Master is the master daemon. New binds its sockets; Run serves until its
// context ends.
type Master struct {
	opts    Options
	log     *logger.Logger
	pool    *pool
	reg     *registry // every slave and monitor session
	history *history  // the status page's memory of the slaves
	metrics *metrics
	guard   *discovery.Guard // seals and checks handshake packets
	sources *sourceLimiter   // handshake packets per source IP
	hs      *handshake       // answers and warnings to strangers
	stats   *stats
	catalog *catalog    // the tasks the slaves offer
	page    webui.Asset // the status page, rendered once

	udp    *net.UDPConn
	httpLn net.Listener
	http   *http.Server
	// cancelRequests ends the contexts of HTTP requests still waiting when
	// the shutdown grace period is over.
	cancelRequests context.CancelFunc

	taskSeq  atomic.Uint64 // user-visible task IDs
	wireSeq  atomic.Uint64 // IDs of task requests on the wire
	tryTimes *tryTimeouts  // per task type, when a try is slow enough to hedge
	counts   tryCounts     // cancels, hedges and ejections since start

	wg sync.WaitGroup // the HTTP server, discovery, and every session
}

// New validates opts and binds the HTTP listener and the discovery socket.
func New(opts Options) (*Master, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	algo, err := balance.New(opts.Algorithm)
	if err != nil {
		return nil, err
	}
	page, err := renderPage()
	if err != nil {
		return nil, err
	}
	m := &Master{
		opts: opts, log: opts.Log, pool: newPool(algo, opts.QueueLength, opts.ClientMaxQueued),
		reg: newRegistry(opts.MaxSlaves, opts.JoinTimeout), history: newHistory(opts.LoadHistory, opts.LostSlaveTTL),
		guard: discovery.NewGuard(opts.Secret), sources: newSourceLimiter(opts.HandshakeRate, opts.HandshakeBurst),
		stats: newStats(opts.RecentTasks, time.Now()), page: page, catalog: newCatalog(),
	}
	m.pool.slowStart, m.pool.ignoreWorkers = opts.SlowStart, !opts.FreeWorkers
	m.pool.maxUnfinished = opts.SlaveMaxUnfinished
	m.pool.outliers = outlierRules{after: opts.EjectAfter, base: opts.EjectBase, maxPercent: opts.EjectMaxPercent}
	m.tryTimes = newTryTimeouts(opts.TryTimeoutFloor)
	m.metrics = newMetrics(m.pool, &m.counts)
	lc := net.ListenConfig{}
	if opts.Iface != "" {
		lc.Control = netif.BindToDevice(opts.Iface)
	}
	pc, err := lc.ListenPacket(context.Background(), "udp4", opts.DiscoveryAddr)
	if err != nil {
		return nil, fmt.Errorf("opening discovery socket %s: %w", opts.DiscoveryAddr, err)
	}
	m.udp = pc.(*net.UDPConn)
	if why := unreachableByBroadcast(opts.DiscoveryAddr, localPrefixes()); why != "" {
		m.log.Warning(why)
	}
	m.hs = newHandshake(opts.Iface, m.udp)
	if m.httpLn, err = net.Listen("tcp", opts.HTTPAddr); err != nil {
		_ = m.udp.Close()
		return nil, fmt.Errorf("opening HTTP listener %s: %w", opts.HTTPAddr, err)
	}
	ln, err := opts.HTTP.Listen(m.httpLn) // HTTPS with -tls-cert
	if err != nil {
		_ = m.httpLn.Close()
		_ = m.udp.Close()
		return nil, err
	}
	m.httpLn = ln
	reqCtx, cancel := context.WithCancel(context.Background())
	m.cancelRequests = cancel
	m.http = &http.Server{
		Handler:           opts.HTTP.Handler(m.routes()),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       2 * opts.ReadHeaderTimeout,
		// A request may queue, then run through re-dispatches.
		WriteTimeout: opts.QueueWait + opts.TaskTimeout + 5*time.Second,
		IdleTimeout:  2 * time.Minute,
	}
	return m, nil
}

// HTTPAddr is the bound address of the HTTP API.
func (m *Master) HTTPAddr() net.Addr { return m.httpLn.Addr() }

// DiscoveryAddr is the bound address of the discovery socket.
func (m *Master) DiscoveryAddr() net.Addr { return m.udp.LocalAddr() }

// Slaves returns how many slaves are in the pool.
func (m *Master) Slaves() int {
	n, _ := m.pool.size()
	return n
}

// Run serves HTTP and discovery until ctx ends or one of them fails, then
// shuts down: it stops taking requests, lets those in flight finish for a
// moment, ends every session and waits for its goroutines. It returns the
// first fatal error, or nil after ctx ended.
func (m *Master) Run(ctx context.Context) error {
	m.log.Info("master running", "algorithm", m.opts.Algorithm, "http", m.HTTPAddr(),
		"discovery", m.DiscoveryAddr(), "iface", m.opts.Iface, "max_slaves", m.opts.MaxSlaves)
	sessions, endSessions := context.WithCancel(context.Background())
	defer endSessions()
	fatal := make(chan error, 2) // one from each server
	m.wg.Go(func() {
		if err := m.http.Serve(m.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatal <- fmt.Errorf("HTTP server: %w", err)
		}
	})
	m.wg.Go(func() {
		if err := m.serveDiscovery(sessions); err != nil {
			fatal <- err
		}
	})
	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
		m.log.Error("master failed", "err", err)
	}
	m.shutdown(endSessions)
	m.log.Info("master stopped")
	return err
}

// shutdown closes the sockets, gives the HTTP requests in flight a moment,
// then ends the sessions and waits for every goroutine.
func (m *Master) shutdown(endSessions context.CancelFunc) {
	_ = m.udp.Close()
	m.reg.close() // no join from here on
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.http.Shutdown(sctx); err != nil {
		m.cancelRequests()
		_ = m.http.Close()
	}
	m.cancelRequests()
	endSessions()
	m.wg.Wait()
}
