package monitor_test

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	monitor "github.com/lbproject/loadbalancer/monitoring_src"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

func startMonitor(t *testing.T, discovery, grafanaURL string) *testutil.Node {
	t.Helper()
	_, node := runMonitor(t, monitorOptions(t, discovery, grafanaURL))
	return node
}

// monitorOptions are defaults for a monitor on loopback that joins the
// master at discovery by unicast, with fast rounds and its status server
// on a free port.
func monitorOptions(t *testing.T, discovery, grafanaURL string) monitor.Options {
	o := monitor.NewOptions()
	o.Iface = "lo"
	o.Master = discovery
	o.Interval = 50 * time.Millisecond
	o.JoinFirstWait = 50 * time.Millisecond
	o.JoinMaxWait = 200 * time.Millisecond
	o.Grafana.URL = grafanaURL
	o.Grafana.Key = "service-account-token"
	o.StatusAddr = "127.0.0.1:0"
	o.Log = testutil.Logger(t, "monitor", "info")
	return o
}

// runMonitor starts a monitor; it stops when the test ends.
func runMonitor(t *testing.T, o monitor.Options) (*monitor.Monitor, *testutil.Node) {
	t.Helper()
	mon, err := monitor.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return mon, testutil.Run(t, mon.Run)
}

func datasourceNames(g *grafanadouble.Server) []string {
	var names []string
	for _, ds := range g.Datasources() {
		names = append(names, ds.Name)
	}
	return names
}

// The monitor joins the master, and Grafana's datasources follow the slave
// hosts as they come and go; the dashboard is kept under one uid.
func TestMonitorFollowsSlaveHosts(t *testing.T) {
	g := grafanadouble.New("service-account-token")
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })

	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	disco := m.DiscoveryAddr().String()
	testutil.StartSlave(t, testutil.SlaveOptions(t, disco))
	testutil.StartFakeSlaveAt(t, "127.0.0.2", disco, 1000, testutil.FakeRefuse)
	gone := testutil.StartFakeSlaveAt(t, "127.0.0.3", disco, 1000, testutil.FakeRefuse)
	testutil.WaitFor(t, 10*time.Second, "three slaves", func() bool { return m.Slaves() == 3 })

	startMonitor(t, disco, g.URL())
	want := []string{"lb-127.0.0.1", "lb-127.0.0.2", "lb-127.0.0.3"}
	testutil.WaitFor(t, 10*time.Second, "a datasource per slave host", func() bool {
		return slices.Equal(datasourceNames(g), want)
	})
	for _, ds := range g.Datasources() {
		ip := ds.Name[len("lb-"):]
		if ds.URL != "http://"+ip+":9090" || ds.Type != "prometheus" {
			t.Errorf("datasource %s: url %q type %q", ds.Name, ds.URL, ds.Type)
		}
	}

	gone.Stop()
	testutil.WaitFor(t, 10*time.Second, "the datasource of the host that left to go", func() bool {
		return slices.Equal(datasourceNames(g), want[:2])
	})
	boards := g.Dashboards()
	if len(boards) != 1 || boards[0].UID != "plugnplay-lb" {
		t.Fatalf("dashboards %+v, want exactly one with uid plugnplay-lb", boards)
	}
}

// askToJoinAsMonitor sends one monitor join request to the master and
// returns its answer.
func askToJoinAsMonitor(t *testing.T, discovery string) packets.JoinReply {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort(packets.Encode(packets.JoinRequest{Monitor: true}), netip.MustParseAddrPort(discovery)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := packets.Decode(buf[:n])
	reply, ok := m.(packets.JoinReply)
	if err != nil || !ok || !reply.Monitor {
		t.Fatalf("answer %#v, %v; want a monitor join reply", m, err)
	}
	return reply
}

// One monitor at a time: a second is refused while the first is connected,
// and accepted once it is gone.
func TestSecondMonitorRefusedUntilFirstLeaves(t *testing.T) {
	g := grafanadouble.New("service-account-token")
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	m, _ := testutil.StartMaster(t, testutil.MasterOptions(t))
	disco := m.DiscoveryAddr().String()
	first := startMonitor(t, disco, g.URL())
	testutil.WaitFor(t, 10*time.Second, "the first monitor to sync", func() bool { return len(g.Dashboards()) == 1 })

	if r := askToJoinAsMonitor(t, disco); r.Accepted || r.Reason != "a monitor is already connected" {
		t.Fatalf("second monitor: %+v, want a NAK saying a monitor is connected", r)
	}
	first.Stop()
	testutil.WaitFor(t, 10*time.Second, "the monitor slot to free", func() bool {
		return askToJoinAsMonitor(t, disco).Accepted
	})
}

// With a secret the monitor joins through the bound handshake and its link
// is encrypted: it still follows the pool into Grafana.
func TestMonitorWithSecret(t *testing.T) {
	g := grafanadouble.New("service-account-token")
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	const secret = "monitor secret"
	mo := testutil.MasterOptions(t)
	mo.Secret = secret
	m, _ := testutil.StartMaster(t, mo)
	disco := m.DiscoveryAddr().String()
	so := testutil.SlaveOptions(t, disco)
	so.Secret = secret
	testutil.StartSlave(t, so)
	testutil.WaitFor(t, 10*time.Second, "the slave", func() bool { return m.Slaves() == 1 })
	o := monitorOptions(t, disco, g.URL())
	o.Secret = secret
	runMonitor(t, o)
	testutil.WaitFor(t, 10*time.Second, "the slave host's datasource", func() bool {
		return slices.Equal(datasourceNames(g), []string{"lb-127.0.0.1"})
	})
}
