package discovery_test

import (
	"net/netip"
	"testing"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/netif"
)

func TestTarget(t *testing.T) {
	t.Parallel()
	ifc := netif.Iface{Name: "eth9", Addr: netip.MustParseAddr("10.0.0.7"), Broadcast: netip.MustParseAddr("10.0.0.255")}
	tests := []struct {
		master string
		want   string // "" means an error
	}{
		{"", "10.0.0.255:3000"},
		{"10.1.2.3:4000", "10.1.2.3:4000"},
		{"10.1.2.3", "10.1.2.3:3000"},
		{"localhost:5", "127.0.0.1:5"},
		{"10.1.2.3:notaport", ""},
		{"[::1]:3000", ""}, // IPv4 only
	}
	for _, tt := range tests {
		got, err := discovery.Target(tt.master, 3000, ifc)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Target(%q) = %s, want an error", tt.master, got)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("Target(%q) = %s, %v; want %s", tt.master, got, err, tt.want)
		}
	}
}
