package slave

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/common/packets"
)

// Slave is a worker node. New binds every socket; Run joins masters and
// serves them until its context ends.
type Slave struct {
	opts      Options
	iface     netif.Iface
	target    netip.AddrPort
	udp       *net.UDPConn
	loadLn    *net.TCPListener
	taskLn    *net.TCPListener
	resultLn  *net.TCPListener
	metricsLn net.Listener
	metrics   *metrics
	exec      *executor
	offers    *offers
	cpu       func() (float64, error)
}

// New resolves the interface and opens the slave's sockets: the three TCP
// listeners first, then the UDP socket whose port is the slave's ID.
func New(opts Options) (*Slave, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ifc, err := netif.Resolve(opts.Iface)
	if err != nil {
		return nil, err
	}
	if opts.TargetDir != "" {
		// Resolved once: the relative default names a different place for
		// every working directory, a service manager's included.
		if opts.TargetDir, err = filepath.Abs(opts.TargetDir); err != nil {
			return nil, fmt.Errorf("-sd-dir: %w", err)
		}
	}
	s := &Slave{opts: opts, iface: ifc, metrics: newMetrics(opts.MaxLoad), cpu: opts.CPUFraction}
	if s.cpu == nil {
		if s.cpu, err = newLoadMetric(opts.LoadMetric, opts.Workers); err != nil {
			return nil, err
		}
	}
	if s.offers, err = newOffers(opts); err != nil {
		return nil, err
	}
	s.exec = &executor{maxLoad: opts.MaxLoad, metrics: s.metrics, emulate: opts.Emulate, speed: opts.Speed}
	if opts.Workers > 0 {
		s.exec.workers = make(chan struct{}, opts.Workers)
	}
	if s.target, err = discovery.Target(opts.Master, opts.DiscoveryPort, ifc); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.closeSockets()
		}
	}()
	for _, ln := range []**net.TCPListener{&s.loadLn, &s.taskLn, &s.resultLn} {
		if *ln, err = listenTCP(ifc.Addr, opts.LinkPorts); err != nil {
			return nil, fmt.Errorf("opening link listener: %w", err)
		}
	}
	if opts.MetricsAddr != "" {
		s.metricsLn, err = net.Listen("tcp", opts.MetricsAddr)
	} else if ln, lnErr := listenTCP(ifc.Addr, opts.LinkPorts); lnErr == nil {
		s.metricsLn = ln // not a nil *TCPListener in the interface on error
	} else {
		err = lnErr
	}
	if err != nil {
		return nil, fmt.Errorf("opening metrics listener: %w", err)
	}
	if s.udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ifc.Addr, 0))); err != nil {
		return nil, fmt.Errorf("opening discovery socket: %w", err)
	}
	ok = true
	return s, nil
}

// ID is the slave's ID: the port of its discovery socket.
func (s *Slave) ID() uint16 { return uint16(s.udp.LocalAddr().(*net.UDPAddr).Port) }

// Key is how the master names the slave: IP:ID.
func (s *Slave) Key() string { return netip.AddrPortFrom(s.iface.Addr, s.ID()).String() }

// Load returns the committed load and the number of tasks running.
func (s *Slave) Load() (committed uint64, running int) {
	st := s.exec.stats()
	return st.committed, st.admitted
}

// MetricsAddr is where /metrics is served.
func (s *Slave) MetricsAddr() string { return s.metricsLn.Addr().String() }

// Run serves until ctx ends: join a master, serve it, and when it is lost go
// back to discovery.
func (s *Slave) Run(ctx context.Context) error {
	defer s.closeSockets()
	log := s.opts.Log
	srv := &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	defer func() {
		_ = srv.Close()
		wg.Wait()
	}()
	log.Info("slave running", "id", s.ID(), "iface", s.iface.Name, "ip", s.iface.Addr,
		"looking_for", s.target, "metrics", s.MetricsAddr(), "max_load", s.opts.MaxLoad, "sd_dir", s.opts.TargetDir)
	// The target file outlives ctx until Run returns: a draining slave stays
	// scraped until it is gone.
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	if s.opts.ShareCores {
		wg.Go(func() { s.shareCores(pubCtx) })
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.keepTargetPublished(pubCtx)
	}()
	cfg := discovery.Config{
		Target: s.target, Unicast: s.opts.Master != "", FirstWait: s.opts.JoinFirstWait, MaxWait: s.opts.JoinMaxWait,
		ConfirmBurst: s.opts.ConfirmBurst, Guard: discovery.NewGuard(s.opts.Secret), Log: log,
	}
	confirm := func(token uint64) packets.Message {
		return packets.SlaveJoinConfirm{
			Token: token, IP: s.iface.Addr,
			LoadPort: port(s.loadLn), TaskPort: port(s.taskLn), ResultPort: port(s.resultLn),
			MetricsPort: s.metricsEndpoint().Port(),
		}
	}
	for ctx.Err() == nil {
		master, err := discovery.Join(ctx, s.udp, cfg, false, confirm)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("joining a master: %w", err)
		}
		log.Info("master accepted join", "master", master.Addr)
		ss, err := s.acceptLinks(ctx, master)
		if err != nil {
			log.Warning("master did not open links", "master", master.Addr, "err", err)
			continue
		}
		log.Info("connected to master", "master", master.Addr, "poll_interval", ss.poll)
		err = ss.serve(ctx)
		if ctx.Err() == nil {
			log.Warning("lost master, looking again", "master", master.Addr, "err", err)
		}
	}
	log.Info("slave stopped", "id", s.ID())
	return nil
}

// metricsEndpoint is where a scraper reaches /metrics: the listener's
// address, or the interface address when it listens on all addresses.
func (s *Slave) metricsEndpoint() netip.AddrPort {
	ap := addrPortOf(s.metricsLn.Addr())
	if ap.Addr().IsUnspecified() {
		return netip.AddrPortFrom(s.iface.Addr, ap.Port())
	}
	return ap
}

// keepTargetPublished publishes the slave's metrics endpoint for the host's
// Prometheus as soon as the target directory exists (it may be created by
// `make slave_preproc` after the slave started), and removes the target file
// when ctx ends (when the slave is gone).
func (s *Slave) keepTargetPublished(ctx context.Context) {
	if s.opts.TargetDir == "" {
		return
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	path, missing := s.publishTarget()
	if missing {
		// Once: it is looked for again every tick, quietly.
		s.opts.Log.Info("no Prometheus target directory (-sd-dir) yet: metrics published once it exists", "dir", s.opts.TargetDir)
	}
	for path == "" {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			path, _ = s.publishTarget()
		}
	}
	<-ctx.Done()
	if err := os.Remove(path); err != nil {
		s.opts.Log.Warning("target file not removed", "path", path, "err", err)
	}
}

// publishTarget cleans up the target files of dead slaves and writes this
// slave's, when the target directory exists. It returns the file written,
// or whether the directory is missing.
func (s *Slave) publishTarget() (path string, missing bool) {
	dir, log := s.opts.TargetDir, s.opts.Log
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		log.Debug("no Prometheus target directory: metrics not published", "dir", dir)
		return "", true
	}
	removed, err := removeStaleTargetFiles(dir, 500*time.Millisecond)
	for _, path := range removed {
		log.Info("removed the target file of a dead slave", "path", path)
	}
	if err != nil {
		log.Warning("stale target files not removed", "err", err)
	}
	path, err = writeTargetFile(dir, s.ID(), s.metricsEndpoint())
	if err != nil {
		log.Warning("metrics not published to Prometheus", "err", err)
		return "", false
	}
	log.Info("published metrics to Prometheus", "path", path)
	return path, false
}

func (s *Slave) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// report builds the answer to load poll seq: committed load × CPU fraction,
// and what the workers do.
func (s *Slave) report(seq uint32) packets.LoadReport {
	st := s.exec.stats()
	factor, err := s.cpu()
	if err != nil {
		s.opts.Log.Warning("load metric unavailable, reporting committed load alone", "err", err)
		factor = 1
	}
	r := packets.LoadReport{
		Seq: seq, Load: float64(st.committed) * factor, Factor: factor,
		Committed: st.committed, MaxLoad: s.opts.MaxLoad, Tasks: uint32(st.admitted),
		Workers: uint16(min(st.workers, math.MaxUint16)), Busy: uint16(min(st.busy, math.MaxUint16)),
		Queued: uint32(min(uint64(st.queued), math.MaxUint32)), Completed: st.completed, BusyMicros: st.busyMicros,
	}
	s.metrics.load.Set(r.Load)
	return r
}

// closeSockets closes whatever New opened, skipping the sockets a failed
// New never opened (Close on a nil *net.UDPConn panics: it embeds its
// connection).
func (s *Slave) closeSockets() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	for _, ln := range []*net.TCPListener{s.loadLn, s.taskLn, s.resultLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.metricsLn != nil {
		_ = s.metricsLn.Close()
	}
}

func port(ln *net.TCPListener) uint16 { return uint16(ln.Addr().(*net.TCPAddr).Port) }

func addrPortOf(a net.Addr) netip.AddrPort {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
