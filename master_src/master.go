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
)

// Master is the master daemon. New binds its sockets; Run serves until its
// context ends.
type Master struct {
	opts    Options
	log     *logger.Logger
	pool    *pool
	metrics *metrics
	joins   *joinTable
	guard   *discovery.Guard // seals and checks handshake packets
	sources *sourceLimiter   // handshake packets per source IP
	hs      *handshake       // answers and warnings to strangers
	stats   *stats
	page    webui.Asset // the status page, rendered once

	udp    *net.UDPConn
	httpLn net.Listener
	http   *http.Server
	// cancelRequests ends the contexts of HTTP requests still waiting when
	// the shutdown grace period is over.
	cancelRequests context.CancelFunc

	taskSeq atomic.Uint64 // user-visible task IDs
	wireSeq atomic.Uint64 // IDs of task requests on the wire

	wg      sync.WaitGroup // every goroutine the master starts
	mu      sync.Mutex
	members map[*member]struct{} // for shutdown
	monitor net.Conn             // the live monitor link, if any
	closing bool
}

// New validates opts and binds the HTTP listener and the discovery socket.
func New(opts Options) (*Master, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	algo, err := NewAlgorithm(opts.Algorithm)
	if err != nil {
		return nil, err
	}
	page, err := renderPage()
	if err != nil {
		return nil, err
	}
	m := &Master{
		opts: opts, log: opts.Log, pool: newPool(algo, opts.QueueLength),
		joins: newJoinTable(), members: make(map[*member]struct{}),
		guard: discovery.NewGuard(opts.Secret), sources: newSourceLimiter(opts.HandshakeRate, opts.HandshakeBurst),
		stats: newStats(opts.RecentTasks, time.Now()), page: page,
	}
	m.pool.historyLen, m.pool.lostFor = opts.LoadHistory, opts.LostSlaveTTL
	m.metrics = newMetrics(m.pool)
	lc := net.ListenConfig{}
	if opts.Iface != "" {
		lc.Control = netif.BindToDevice(opts.Iface)
	}
	pc, err := lc.ListenPacket(context.Background(), "udp4", opts.DiscoveryAddr)
	if err != nil {
		return nil, fmt.Errorf("opening discovery socket %s: %w", opts.DiscoveryAddr, err)
	}
	m.udp = pc.(*net.UDPConn)
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

// Run serves HTTP and discovery until ctx ends, then shuts down: it stops
// taking requests, lets those in flight finish for a moment, closes every
// slave link and waits for its goroutines.
func (m *Master) Run(ctx context.Context) error {
	m.log.Info("master running", "algorithm", m.opts.Algorithm, "http", m.HTTPAddr(),
		"discovery", m.DiscoveryAddr(), "iface", m.opts.Iface, "max_slaves", m.opts.MaxSlaves)
	errc := make(chan error, 1)
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.http.Serve(m.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("HTTP server: %w", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.serveDiscovery(ctx)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	m.shutdown()
	m.log.Info("master stopped")
	return err
}

func (m *Master) shutdown() {
	_ = m.udp.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.http.Shutdown(sctx); err != nil {
		m.cancelRequests()
		_ = m.http.Close()
	}
	m.cancelRequests()
	m.mu.Lock()
	m.closing = true
	members := make([]*member, 0, len(m.members))
	for mb := range m.members {
		members = append(members, mb)
	}
	if m.monitor != nil {
		_ = m.monitor.Close()
	}
	m.mu.Unlock()
	for _, mb := range members {
		mb.link.lose(errMasterShutdown)
	}
	m.wg.Wait()
}

// track registers a joined slave for shutdown; it fails once shutdown began.
func (m *Master) track(mb *member) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.members[mb] = struct{}{}
	return true
}

func (m *Master) untrack(mb *member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.members, mb)
}
