package bench

import "syscall"

// childAttr gives a child its own process group, so a Ctrl-C in the
// console reaches only the lab, which then stops its children in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
