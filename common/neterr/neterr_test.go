package neterr

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestTransient(t *testing.T) {
	t.Parallel()
	wrapped := &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendto", syscall.ENETUNREACH)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"network unreachable, wrapped as net does", fmt.Errorf("sending: %w", wrapped), true},
		{"host unreachable", syscall.EHOSTUNREACH, true},
		{"no buffer space", syscall.ENOBUFS, true},
		{"closed socket", net.ErrClosed, false},
		{"bad file descriptor", syscall.EBADF, false},
		{"some other error", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.Next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	b.Reset()
	if w := b.Next(); w != 100*time.Millisecond {
		t.Fatalf("after Reset: %v, want the minimum", w)
	}
}
