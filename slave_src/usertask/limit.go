package usertask

import (
	"fmt"
	"strings"
	"sync"
)

// cappedBuffer collects a result up to max bytes. The write that would pass
// the cap fails and calls over once: the result is never truncated, the
// task fails and its program is stopped.
type cappedBuffer struct {
	max  int
	over func()

	mu       sync.Mutex
	buf      []byte
	exceeded bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exceeded || len(b.buf)+len(p) > b.max {
		if !b.exceeded {
			b.exceeded = true
			b.over()
		}
		return 0, b.err()
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *cappedBuffer) err() error {
	return fmt.Errorf("output exceeds max-output (%d bytes)", b.max)
}

// result returns the bytes collected, or the error if the cap was passed.
func (b *cappedBuffer) result() ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exceeded {
		return nil, b.err()
	}
	return b.buf, nil
}

// firstLine returns the first non-empty line of b, at most 200 bytes of
// valid UTF-8: what a failure's message carries of a program's stderr or a
// service's body.
func firstLine(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > 200 {
				line = line[:200] + "…"
			}
			return strings.ToValidUTF8(line, "?")
		}
	}
	return ""
}
