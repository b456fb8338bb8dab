package monitor

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/common/packets"
)

// Monitor is the monitor daemon. New binds its sockets; Run follows the
// master's pool into Grafana until its context ends.
type Monitor struct {
	opts    Options
	iface   netif.Iface
	target  netip.AddrPort
	udp     *net.UDPConn
	ln      *net.TCPListener
	grafana *Grafana
	state   *state

	statusLn  net.Listener // nil when Options.StatusAddr is empty
	statusSrv *http.Server
}

// New resolves the interface, checks the Grafana settings and opens the
// link listener, the UDP socket and the status server's listener.
func New(opts Options) (*Monitor, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Grafana.Log = opts.Log
	g, err := NewGrafana(opts.Grafana)
	if err != nil {
		return nil, config.Invalid(err)
	}
	ifc, err := netif.Resolve(opts.Iface)
	if err != nil {
		return nil, err
	}
	target, err := discovery.Target(opts.Master, opts.DiscoveryPort, ifc)
	if err != nil {
		return nil, err
	}
	mon := &Monitor{opts: opts, iface: ifc, target: target, grafana: g,
		state: newState(time.Now(), opts.Interval, target, g)}
	if mon.ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ifc.Addr, 0))); err != nil {
		return nil, fmt.Errorf("opening link listener: %w", err)
	}
	if mon.udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ifc.Addr, 0))); err != nil {
		_ = mon.ln.Close()
		return nil, fmt.Errorf("opening discovery socket: %w", err)
	}
	if err := mon.listenStatus(); err != nil {
		_ = mon.ln.Close()
		_ = mon.udp.Close()
		return nil, err
	}
	return mon, nil
}

// Run joins a master, follows its pool, and when the master is lost looks
// for one again, until ctx ends.
func (mon *Monitor) Run(ctx context.Context) error {
	defer mon.udp.Close()
	defer mon.ln.Close()
	defer mon.grafana.Close()
	stopStatus := mon.serveStatus()
	defer stopStatus()
	log := mon.opts.Log
	log.Info("monitor running", "iface", mon.iface.Name, "ip", mon.iface.Addr, "looking_for", mon.target,
		"grafana", mon.opts.Grafana.URL, "interval", mon.opts.Interval, "status_page", mon.statusURL())
	cfg := discovery.Config{
		Target: mon.target, Unicast: mon.opts.Master != "", FirstWait: mon.opts.JoinFirstWait, MaxWait: mon.opts.JoinMaxWait,
		ConfirmBurst: 10, Guard: discovery.NewGuard(mon.opts.Secret), Log: log,
	}
	port := uint16(mon.ln.Addr().(*net.TCPAddr).Port)
	confirm := func(token uint64) packets.Message {
		return packets.MonitorJoinConfirm{Token: token, IP: mon.iface.Addr, Port: port}
	}
	for ctx.Err() == nil {
		master, err := discovery.Join(ctx, mon.udp, cfg, true, confirm)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("joining a master: %w", err)
		}
		conn, _, err := discovery.AcceptLink(ctx, mon.ln, packets.LinkMonitor, master,
			time.Now().Add(mon.opts.LinkTimeout), log)
		if err != nil {
			log.Warning("master did not open the link", "master", master.Addr, "err", err)
			continue
		}
		log.Info("connected to master", "master", master.Addr)
		mon.state.connected(master.Addr, time.Now())
		err = mon.follow(ctx, conn)
		conn.Close()
		if ctx.Err() == nil {
			mon.state.lost(err, time.Now())
			log.Warning("lost master, looking again", "master", master.Addr, "err", err)
		}
	}
	log.Info("monitor stopped")
	return nil
}

// follow asks the master for its slaves every interval and hands them to
// Grafana's sync, which does nothing when nothing changed and retries what
// failed; Sync logs its own failures.
func (mon *Monitor) follow(ctx context.Context, conn net.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	r, w := bufio.NewReader(conn), packets.NewWriter(conn)
	tick := time.NewTicker(mon.opts.Interval)
	defer tick.Stop()
	var inStep []SlaveHost // the hosts of the last successful sync
	for seq := uint32(1); ; seq++ {
		entries, err := askSlaves(conn, r, w, seq, mon.opts.LinkTimeout)
		if err != nil {
			return err
		}
		hosts := groupByHost(entries)
		mon.state.sawSlaves(hosts, time.Now())
		err = mon.grafana.Sync(ctx, hosts)
		mon.recordSync(ctx, err)
		if err == nil && (inStep == nil || !slices.EqualFunc(hosts, inStep, sameHost)) {
			mon.opts.Log.Info("Grafana in step", "hosts", len(hosts), "slaves", len(entries))
			inStep = hosts
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func askSlaves(conn net.Conn, r *bufio.Reader, w *packets.Writer, seq uint32, timeout time.Duration) ([]packets.SlaveEntry, error) {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if err := w.Write(packets.SlaveListRequest{Seq: seq}); err != nil {
		return nil, fmt.Errorf("asking for slaves: %w", err)
	}
	m, err := packets.ReadFrame(r)
	if err != nil {
		return nil, fmt.Errorf("reading slave list: %w", err)
	}
	list, ok := m.(packets.SlaveList)
	if !ok || list.Seq != seq {
		return nil, fmt.Errorf("unexpected %s on the monitor link", m.Type())
	}
	return list.Slaves, nil
}

// groupByHost turns the master's slave list into hosts sorted by IP, each
// with its slaves sorted by ID.
func groupByHost(entries []packets.SlaveEntry) []SlaveHost {
	byIP := map[netip.Addr][]SlaveRef{}
	for _, e := range entries {
		byIP[e.IP] = append(byIP[e.IP], SlaveRef{ID: e.ID, MetricsPort: e.MetricsPort})
	}
	hosts := make([]SlaveHost, 0, len(byIP))
	for ip, refs := range byIP {
		slices.SortFunc(refs, func(a, b SlaveRef) int { return int(a.ID) - int(b.ID) })
		hosts = append(hosts, SlaveHost{IP: ip, Slaves: refs})
	}
	slices.SortFunc(hosts, func(a, b SlaveHost) int { return a.IP.Compare(b.IP) })
	return hosts
}

func sameHost(a, b SlaveHost) bool { return a.IP == b.IP && slices.Equal(a.Slaves, b.Slaves) }
