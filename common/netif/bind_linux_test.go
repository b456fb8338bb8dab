package netif_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/lbproject/loadbalancer/common/netif"
)

func TestBindToDevice(t *testing.T) {
	t.Parallel()
	t.Run("unknown interface", func(t *testing.T) {
		t.Parallel()
		const name = "nonexistent0"
		lc := net.ListenConfig{Control: netif.BindToDevice(name)}
		c, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
		if err == nil {
			c.Close()
			t.Fatal("binding to a nonexistent interface succeeded")
		}
		if errors.Is(err, syscall.EPERM) {
			skipUnlessCI(t, "not permitted here: %v", err)
		}
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("error %q does not name the interface", err)
		}
	})
	t.Run("loopback", func(t *testing.T) {
		t.Parallel()
		if _, err := net.InterfaceByName("lo"); err != nil {
			t.Fatalf("no interface named lo here: %v", err)
		}
		lc := net.ListenConfig{Control: netif.BindToDevice("lo")}
		c, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:0")
		if errors.Is(err, syscall.EPERM) {
			skipUnlessCI(t, "not permitted here: %v", err)
		}
		if err != nil {
			t.Fatalf("binding to lo: %v", err)
		}
		defer c.Close()
		// A datagram sent over loopback arrives.
		s, err := net.Dial("udp4", c.LocalAddr().(*net.UDPAddr).AddrPort().String())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Write([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		n, _, err := c.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "hi" {
			t.Fatalf("ReadFrom = %q, %v", buf[:n], err)
		}
	})
}
