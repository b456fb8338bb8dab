package slave

import (
	"net"
	"testing"
)

// A New that fails half-way (here the metrics port is taken, as when the
// lab loses a port to another program) closes what it opened and returns
// the error: it does not panic on the sockets it never opened.
func TestNewFailsCleanlyWhenAPortIsTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	o := NewOptions()
	o.Iface, o.MetricsAddr, o.TargetDir = "lo", taken.Addr().String(), ""
	if s, err := New(o); err == nil {
		s.closeSockets()
		t.Fatal("New succeeded on a taken metrics port")
	}
}
