package netif

import (
	"fmt"
	"syscall"
)

// BindToDevice returns a net.ListenConfig Control function that restricts a
// socket to interface name, so a listener on 0.0.0.0 still only hears that
// interface (broadcasts included, which a socket bound to a unicast address
// would miss).
func BindToDevice(name string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, name)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("binding to interface %s: %w", name, serr)
		}
		return nil
	}
}
