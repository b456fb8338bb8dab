package master

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

func TestLossCause(t *testing.T) {
	t.Parallel()
	timeout := fmt.Errorf("load link: read tcp 10.0.0.1:1->10.0.0.2:2: %w", os.ErrDeadlineExceeded)
	for _, tt := range []struct {
		name    string
		err     error
		leaving bool
		want    string
		clean   bool
	}{
		{"drained: links closed after Leaving", fmt.Errorf("result link: %w", io.EOF), true, "drained", true},
		{"killed: links closed without Leaving", fmt.Errorf("result link: %w", io.EOF), false, "killed: result link: EOF", false},
		{"killed: connection reset", fmt.Errorf("task link: %w", syscall.ECONNRESET), false, "killed: task link: connection reset by peer", false},
		{"unresponsive: a poll timed out", timeout, false, "unresponsive: " + timeout.Error(), false},
		{"unresponsive while draining", timeout, true, "unresponsive: " + timeout.Error(), false},
		{"master shutdown", errShuttingDown, false, "master shutting down", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, clean := lossCause(tt.err, tt.leaving)
			if got != tt.want || clean != tt.clean {
				t.Fatalf("lossCause = %q, %v; want %q, %v", got, clean, tt.want, tt.clean)
			}
		})
	}
	if c, _ := lossCause(errors.New("x"), false); c != "killed: x" {
		t.Fatalf("an unknown error: %q", c)
	}
}
