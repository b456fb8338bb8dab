package packets_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
)

// countingBuffer is a bytes.Buffer that counts Write calls.
type countingBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func TestBatchWriterDeliversEverythingInOrderPerWriter(t *testing.T) {
	t.Parallel()
	var out countingBuffer
	b := packets.NewBatchWriter(&out, 64, nil)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := b.Write(packets.TaskAck{ID: uint64(w)<<32 | uint64(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.Close() // flushes what is queued
	r := bufio.NewReader(&out.buf)
	next := make([]uint64, writers)
	for n := 0; n < writers*each; n++ {
		m, err := packets.ReadFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		id := m.(packets.TaskAck).ID
		w, i := id>>32, id&0xffffffff
		if i != next[w] {
			t.Fatalf("writer %d: frame %d came after %d", w, i, next[w])
		}
		next[w]++
	}
	if _, err := packets.ReadFrame(r); err != io.EOF {
		t.Fatalf("trailing bytes: %v", err)
	}
	t.Logf("%d frames in %d writes", writers*each, out.writes)
	if err := b.Write(packets.TaskAck{}); !errors.Is(err, packets.ErrWriterClosed) {
		t.Fatalf("Write after Close: %v, want ErrWriterClosed", err)
	}
}

type brokenLink struct{}

func (brokenLink) Write([]byte) (int, error) { return 0, errors.New("link down") }

func TestBatchWriterReportsFailure(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	b := packets.NewBatchWriter(brokenLink{}, 4, func(err error) { got <- err })
	_ = b.Write(packets.TaskAck{ID: 1})
	if err := <-got; err == nil || err.Error() != "link down" {
		t.Fatalf("onErr got %v", err)
	}
	for i := 0; i < 10; i++ { // never blocks once the writer has failed
		if err := b.Write(packets.TaskAck{ID: 2}); err != nil {
			break
		}
	}
	b.Close()
	if err := b.Write(packets.TaskAck{ID: 3}); err == nil {
		t.Fatal("Write after a failure and Close succeeded")
	}
	big := packets.TaskResult{Body: string(make([]byte, packets.MaxPayload))}
	d := packets.NewBatchWriter(io.Discard, 1, nil)
	defer d.Close()
	if err := d.Write(big); err == nil {
		t.Fatal("an oversized frame was queued")
	}
}
