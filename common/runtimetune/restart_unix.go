//go:build unix

package runtimetune

import (
	"fmt"
	"os"
	"syscall"
)

// Restart re-executes the running binary, same process and arguments, with
// Env's environment, unless Env changes nothing; it does not return then.
// An error means the daemon goes on under the runtime's defaults.
func Restart() error {
	env, changed := Env(os.Environ())
	if !changed {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the running binary: %w", err)
	}
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("re-executing %s with GODEBUG=%s: %w", exe, Setting, err)
	}
	return nil // not reached: Exec returns only on failure
}
