package slave

import (
	"runtime"
	"syscall"
)

// computeNice is how much nicer than the slave a thread computing a task
// runs (within the kernel's bound of 19).
const computeNice = 5

// yieldToOthers lowers the priority of the calling goroutine's thread for
// the rest of the goroutine's life, so that on a shared host the threads
// that only move messages (the slave's link readers, a master beside it)
// run at once instead of waiting for a computing thread's time slice.
// The goroutine keeps the thread and must end without unlocking it: the
// runtime then ends the thread, so no other goroutine inherits the lower
// priority (which an unprivileged process could not raise again).
func yieldToOthers() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	// The raw system call answers 20 − nice. A failure leaves the thread as
	// it was: slower cheap tasks on a shared host, nothing worse.
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-p+computeNice, 19))
	}
}
