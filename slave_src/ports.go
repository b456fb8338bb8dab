package slave

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// PortRange is the TCP ports a slave's listeners may take (-link-ports
// A-B), so that a firewall opens a known range instead of every port.
// Several slaves on a host share a range: each takes the lowest ports still
// free. The zero PortRange means ephemeral ports.
type PortRange struct{ First, Last uint16 }

// String is the range as -link-ports takes it; empty for ephemeral ports.
func (r PortRange) String() string {
	if r == (PortRange{}) {
		return ""
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Set parses "A-B" (1 ≤ A ≤ B ≤ 65535); "" means ephemeral ports. With
// String it makes PortRange a flag.Value.
func (r *PortRange) Set(s string) error {
	if s == "" {
		*r = PortRange{}
		return nil
	}
	a, b, ok := strings.Cut(s, "-")
	first, errA := strconv.ParseUint(a, 10, 16)
	last, errB := strconv.ParseUint(b, 10, 16)
	if !ok || errA != nil || errB != nil || first == 0 || first > last {
		return fmt.Errorf("want FIRST-LAST, two ports with 1 ≤ FIRST ≤ LAST ≤ 65535, got %q", s)
	}
	*r = PortRange{uint16(first), uint16(last)}
	return nil
}

// listenTCP opens a TCP listener on addr: on the port ports' lowest free
// one, or an ephemeral port for the zero range. A port that cannot be bound
// (in use by another slave, or anything else) is skipped; the error says
// why the last one failed.
func listenTCP(addr netip.Addr, ports PortRange) (*net.TCPListener, error) {
	if ports == (PortRange{}) {
		return net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	}
	var err error
	for p := int(ports.First); p <= int(ports.Last); p++ {
		var ln *net.TCPListener
		if ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(p)))); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port in %s on %s (each slave takes 4: 3 links and /metrics, unless -metrics-addr names one): %w", ports, addr, err)
}
