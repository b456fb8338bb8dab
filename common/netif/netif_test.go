package netif_test

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/netif"
)

func TestBroadcastOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		want   string
	}{
		{"192.168.1.10/24", "192.168.1.255"},
		{"192.168.1.0/24", "192.168.1.255"},
		{"10.20.30.40/8", "10.255.255.255"},
		{"172.16.5.4/16", "172.16.255.255"},
		{"10.0.0.5/30", "10.0.0.7"},
		{"10.0.0.4/30", "10.0.0.7"},
		{"10.0.0.9/31", "10.0.0.9"},
		{"10.0.0.9/32", "10.0.0.9"},
		{"255.255.255.255/32", "255.255.255.255"},
		{"0.0.0.0/0", "255.255.255.255"},
		{"1.2.3.4/0", "255.255.255.255"},
		{"10.1.2.3/20", "10.1.15.255"},
		{"10.1.2.3/23", "10.1.3.255"},
		{"10.1.2.3/25", "10.1.2.127"},
		{"127.0.0.1/8", "127.255.255.255"},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			t.Parallel()
			p := netip.MustParsePrefix(tc.prefix)
			got := netif.BroadcastOf(p)
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Fatalf("BroadcastOf(%s) = %s, want %s", p, got, want)
			}
			if !got.Is4() {
				t.Errorf("BroadcastOf(%s) = %s is not a plain IPv4 address", p, got)
			}
			// The broadcast address stays inside the prefix.
			if !p.Masked().Contains(got) {
				t.Errorf("BroadcastOf(%s) = %s lies outside the prefix", p, got)
			}
		})
	}
}

func TestResolveLoopback(t *testing.T) {
	t.Parallel()
	if _, err := net.InterfaceByName("lo"); err != nil {
		t.Fatalf("no interface named lo here: %v", err)
	}
	got, err := netif.Resolve("lo")
	if err != nil {
		t.Fatalf("Resolve(lo): %v", err)
	}
	want := netif.Iface{
		Name:      "lo",
		Addr:      netip.MustParseAddr("127.0.0.1"),
		Broadcast: netip.MustParseAddr("127.255.255.255"),
	}
	if got != want {
		t.Fatalf("Resolve(lo) = %+v, want %+v", got, want)
	}
}

func TestResolveUnknownInterface(t *testing.T) {
	t.Parallel()
	const name = "nonexistent0"
	got, err := netif.Resolve(name)
	if err == nil {
		t.Fatalf("Resolve(%s) = %+v, want an error", name, got)
	}
	if !strings.Contains(err.Error(), name) {
		t.Fatalf("error %q does not name the interface", err)
	}
	if got != (netif.Iface{}) {
		t.Errorf("Resolve returned %+v with its error", got)
	}
}

// TestResolveDefault depends on the host's interfaces: it checks only what
// holds for any answer.
func TestResolveDefault(t *testing.T) {
	t.Parallel()
	got, err := netif.Resolve("")
	if err != nil {
		if !strings.Contains(err.Error(), "-iface") {
			t.Errorf("error %q does not point at -iface", err)
		}
		skipUnlessCI(t, "no usable default interface here: %v", err)
	}
	if got.Name == "" || !got.Addr.Is4() || !got.Broadcast.Is4() {
		t.Fatalf("Resolve(\"\") = %+v", got)
	}
	if got.Addr.IsLoopback() {
		t.Errorf("Resolve(\"\") chose loopback interface %s", got.Name)
	}
	ifi, err := net.InterfaceByName(got.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagBroadcast == 0 {
		t.Errorf("Resolve(\"\") chose %s with flags %v", got.Name, ifi.Flags)
	}
	again, err := netif.Resolve(got.Name)
	if err != nil || again != got {
		t.Errorf("Resolve(%q) = %+v, %v; want %+v", got.Name, again, err, got)
	}
}

// skipUnlessCI skips where the machine cannot run the test, but fails under
// CI=true, where every test must run.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
