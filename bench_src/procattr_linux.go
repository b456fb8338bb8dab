package bench

import "syscall"

// childAttr puts a child in its own process group and has the kernel kill
// it should the lab die first. (Pdeathsig fires when the thread that
// started the child ends; Go ends no thread while the program runs unless
// a goroutine locked to it returns, which bench never does.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
