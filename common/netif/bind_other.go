//go:build !linux

package netif

import (
	"fmt"
	"syscall"
)

// BindToDevice is only implemented on Linux.
func BindToDevice(name string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return fmt.Errorf("binding to interface %s: only supported on Linux", name)
	}
}
