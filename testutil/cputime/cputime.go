//go:build unix

// Package cputime reads the CPU time the process has used, for benchmarks
// that measure work rather than wall time (on a busy machine, wall time
// also counts waiting for a core).
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Process returns the user and system CPU time of the process so far; tb
// fails if it cannot be read.
func Process(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
