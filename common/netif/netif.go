// Package netif picks the network interface a node uses: its IPv4 address
// (where a slave listens) and the subnet's broadcast address (where it looks
// for the master).
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Iface is the chosen interface.
type Iface struct {
	Name      string
	Addr      netip.Addr // the interface's first IPv4 address
	Broadcast netip.Addr // that address with every host bit set
}

// Resolve returns the interface called name or, when name is empty, the first
// interface that is up, is not loopback, and has an IPv4 address and a
// broadcast flag.
func Resolve(name string) (Iface, error) {
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return Iface{}, fmt.Errorf("interface %q: %w", name, err)
		}
		return fromInterface(*ifi)
	}
	ifis, err := net.Interfaces()
	if err != nil {
		return Iface{}, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, ifi := range ifis {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagBroadcast == 0 {
			continue
		}
		if found, err := fromInterface(ifi); err == nil {
			return found, nil
		}
	}
	return Iface{}, errors.New("no interface is up with an IPv4 address and broadcast: name one with -iface")
}

func fromInterface(ifi net.Interface) (Iface, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return Iface{}, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.To4() == nil {
			continue
		}
		prefix, err := netip.ParsePrefix(ipnet.String())
		if err != nil {
			continue
		}
		return Iface{Name: ifi.Name, Addr: prefix.Addr(), Broadcast: BroadcastOf(prefix)}, nil
	}
	return Iface{}, fmt.Errorf("interface %s has no IPv4 address", ifi.Name)
}

// BroadcastOf returns the directed broadcast address of an IPv4 prefix.
func BroadcastOf(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}
