package slave

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestPortRangeSet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    PortRange
		wantErr bool
	}{
		{"7000-7099", PortRange{7000, 7099}, false},
		{"1-65535", PortRange{1, 65535}, false},
		{"9000-9000", PortRange{9000, 9000}, false},
		{"", PortRange{}, false},
		{"7099-7000", PortRange{}, true},
		{"0-10", PortRange{}, true},
		{"7000", PortRange{}, true},
		{"7000-", PortRange{}, true},
		{"-7000", PortRange{}, true},
		{"7000-65536", PortRange{}, true},
		{"a-b", PortRange{}, true},
		{"7000-7001-7002", PortRange{}, true},
		{" 7000-7001", PortRange{}, true},
	} {
		var r PortRange
		err := r.Set(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && r != tc.want) {
			t.Errorf("Set(%q) = %v, %v; want %v, error %v", tc.in, r, err, tc.want, tc.wantErr)
		}
		if err == nil && r.String() != tc.in {
			t.Errorf("Set(%q).String() = %q", tc.in, r.String())
		}
	}
}

// Slaves on one host share a range: each takes the lowest free ports,
// skipping ports something else holds, and one that finds none left says so.
func TestSlavesShareLinkPorts(t *testing.T) {
	// A range of 10 ports near a port just free; whatever else holds one
	// of them is skipped like the listener this test holds.
	probe, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	first := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	if first > 65535-10 {
		first = 65535 - 10
	}
	ports := PortRange{uint16(first), uint16(first + 9)}
	held, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+1)))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", first+1, err)
	}
	defer held.Close()

	seen := map[int]bool{first + 1: true}
	newSlave := func() (*Slave, error) {
		o := NewOptions()
		o.Iface, o.Master, o.LinkPorts = "lo", "127.0.0.1:9", ports
		return New(o)
	}
	for i := 0; i < 2; i++ {
		s, err := newSlave()
		if err != nil {
			t.Fatalf("slave %d: %v", i, err)
		}
		defer s.closeSockets()
		for _, a := range []net.Addr{s.loadLn.Addr(), s.taskLn.Addr(), s.resultLn.Addr(), s.metricsLn.Addr()} {
			p := a.(*net.TCPAddr).Port
			if p < int(ports.First) || p > int(ports.Last) || seen[p] {
				t.Errorf("slave %d listens on %d: outside %s or taken twice", i, p, ports)
			}
			seen[p] = true
		}
	}
	// 9 free ports, 8 taken: a third slave cannot open its 4 listeners.
	if s, err := newSlave(); err == nil {
		s.closeSockets()
		t.Fatal("a third slave found 4 ports in a range with 1 left")
	} else if !strings.Contains(err.Error(), "no free port in "+ports.String()) {
		t.Errorf("error %q does not name the range", err)
	}
}
