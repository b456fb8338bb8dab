package slave

import (
	"syscall"
	"testing"
)

// threadNice is the niceness of the calling thread. The raw getpriority
// system call answers 20 − nice.
func threadNice(t *testing.T) int {
	t.Helper()
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

// A computing goroutine's thread runs at computeNice, and only that thread.
func TestYieldToOthersLowersOnlyItsThread(t *testing.T) {
	base := threadNice(t)
	got := make(chan int)
	go func() {
		yieldToOthers()
		got <- threadNice(t)
	}()
	if n := <-got; n != min(base+computeNice, 19) {
		t.Fatalf("computing thread at nice %d, want %d", n, min(base+computeNice, 19))
	}
	if n := threadNice(t); n != base {
		t.Fatalf("the test's own thread went from nice %d to %d", base, n)
	}
}
