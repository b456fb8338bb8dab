package master

import (
	"net/netip"
	"strings"
	"testing"
)

func TestUnreachableByBroadcast(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("10.0.5.1/24"), netip.MustParsePrefix("10.9.9.9/32")}
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{":3000", false},
		{"0.0.0.0:3000", false},
		{"255.255.255.255:3000", false},
		{"10.0.5.255:3000", false},      // the subnet's broadcast address
		{"127.255.255.255:3000", false}, // loopback's, as the tests use with -iface lo
		{"localhost:3000", false},       // a name: not guessed at
		{"127.0.0.1:3000", true},
		{"10.0.5.1:3000", true},
		{"10.9.9.9:3000", true},   // a /32 has no broadcast address
		{"10.0.6.255:3000", true}, // not a local subnet's
	} {
		got := unreachableByBroadcast(tc.addr, local)
		if (got != "") != tc.warn {
			t.Errorf("unreachableByBroadcast(%q) = %q, want a warning: %v", tc.addr, got, tc.warn)
		}
		if got != "" && !strings.Contains(got, "-master") {
			t.Errorf("warning %q does not say how slaves can still join", got)
		}
	}
}
