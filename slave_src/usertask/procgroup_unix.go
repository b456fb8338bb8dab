//go:build unix

package usertask

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the program in a new process group, and makes ending the
// context kill that whole group: the program and every child it started.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killGroup(cmd)
		return nil
	}
}

// killGroup kills the program's group. The group's id is the program's pid,
// which cannot be reused while any member lives.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
