package packets_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

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
	b := packets.NewBatchWriter(&out)
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
	b := packets.NewBatchWriter(brokenLink{})
	_ = b.Write(packets.TaskAck{ID: 1})
	<-b.Failed()
	if err := b.Err(); err == nil || err.Error() != "link down" {
		t.Fatalf("Err after Failed: %v", err)
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
	d := packets.NewBatchWriter(io.Discard)
	defer d.Close()
	if err := d.Write(big); err == nil {
		t.Fatal("an oversized frame was queued")
	}
}

// stepper is a stream whose first hold Writes each wait for the test's
// go-ahead, like a peer whose receive window is full: each says it has begun
// on entered and waits on release. Later Writes go straight through.
type stepper struct {
	countingBuffer
	hold             int // touched only by the writing goroutine of the moment
	entered, release chan struct{}
	fail             error // returned by the held Writes, once released
}

func newStepper(hold int) *stepper {
	return &stepper{hold: hold, entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *stepper) Write(p []byte) (int, error) {
	if s.hold > 0 {
		s.hold--
		s.entered <- struct{}{}
		<-s.release
		if s.fail != nil {
			return 0, s.fail
		}
	}
	return s.countingBuffer.Write(p)
}

// stuckWrite returns a writer whose first Write (of frame 0) is stuck in the
// stream until g.release; first gets that Write's error.
func stuckWrite() (g *stepper, b *packets.BatchWriter, first chan error) {
	g = newStepper(1)
	b = packets.NewBatchWriter(g)
	first = make(chan error)
	go func() { first <- b.Write(packets.TaskAck{ID: 0}) }()
	<-g.entered
	return g, b, first
}

func TestBatchWriterCoalescesBehindASlowWrite(t *testing.T) {
	t.Parallel()
	g, b, first := stuckWrite()
	// The first Write is stuck in the stream: these return at once, queued.
	for i := 1; i <= 100; i++ {
		if err := b.Write(packets.TaskAck{ID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	// Once Queue is refused, Close has begun; it must then wait for the
	// stuck write. (A Close that did not wait would return within
	// microseconds: 100 ms lets it show; the real one never does.)
	waitClosing(t, b)
	select {
	case <-closed:
		t.Fatal("Close returned while a flush was still writing")
	case <-time.After(100 * time.Millisecond):
	}
	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-closed
	if g.writes != 2 {
		t.Fatalf("%d writes, want 2: the first frame, then the 100 queued behind it", g.writes)
	}
	r := bufio.NewReader(&g.buf)
	for i := 0; i <= 100; i++ {
		m, err := packets.ReadFrame(r)
		if err != nil || m.(packets.TaskAck).ID != uint64(i) {
			t.Fatalf("frame %d: %v %v", i, m, err)
		}
	}
}

func TestBatchWriterQueueWaitsForFlush(t *testing.T) {
	t.Parallel()
	var out countingBuffer
	b := packets.NewBatchWriter(&out)
	for i := 0; i < 3; i++ {
		if err := b.Queue(packets.TaskAck{ID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 0 {
		t.Fatalf("Queue wrote %d times before Flush", out.writes)
	}
	b.Flush()
	if out.writes != 1 || out.buf.Len() != 3*len(packets.Encode(packets.TaskAck{})) {
		t.Fatalf("Flush: %d writes of %d bytes, want the 3 frames in one", out.writes, out.buf.Len())
	}
}

func TestBatchWriterFailsWhenThePeerStopsReading(t *testing.T) {
	t.Parallel()
	g := newStepper(1)
	b := packets.NewBatchWriter(g)
	go func() { _ = b.Write(packets.TaskAck{}) }()
	<-g.entered
	body := string(make([]byte, 1<<20-64))
	var err error
	for i := 0; i < packets.MaxPending>>20+2 && err == nil; i++ {
		err = b.Queue(packets.TaskResult{Body: body})
	}
	if err == nil {
		t.Fatalf("queued more than %d bytes behind a stuck write", packets.MaxPending)
	}
	<-b.Failed()
	if reported := b.Err(); reported != err {
		t.Fatalf("Err got %v, Queue returned %v", reported, err)
	}
	g.release <- struct{}{}
	b.Close()
}

// After a batch too large to keep for reuse, the next batches must not share
// a buffer with a batch still being written: frames queued during a Write
// would overwrite the bytes it is sending.
func TestBatchWriterNeverReusesABufferBeingWritten(t *testing.T) {
	t.Parallel()
	s := newStepper(4)
	b := packets.NewBatchWriter(s)
	var want bytes.Buffer
	queue := func(from, to uint64) {
		for i := from; i < to; i++ {
			m := packets.TaskAck{ID: i}
			if err := b.Queue(m); err != nil {
				t.Error(err)
			}
			want.Write(packets.Encode(m))
		}
	}
	flush := func() chan struct{} {
		done := make(chan struct{})
		go func() { b.Flush(); close(done) }()
		return done
	}
	queue(0, 100) // a small batch: its buffer is kept for reuse
	done := flush()
	<-s.entered
	s.release <- struct{}{}
	<-done
	big := packets.TaskResult{ID: 1, Body: string(bytes.Repeat([]byte("7"), 300<<10))}
	if err := b.Queue(big); err != nil {
		t.Fatal(err)
	}
	want.Write(packets.Encode(big))
	done = flush()
	<-s.entered // writing the large batch
	queue(100, 150)
	s.release <- struct{}{}
	<-s.entered // writing frames 100-149
	queue(150, 200)
	s.release <- struct{}{}
	<-s.entered // writing frames 150-199
	s.release <- struct{}{}
	<-done
	if !bytes.Equal(s.buf.Bytes(), want.Bytes()) {
		t.Fatalf("the stream differs from the frames queued (%d bytes written, %d queued)", s.buf.Len(), want.Len())
	}
}

func TestBatchWriterYieldAndFlushWrites(t *testing.T) {
	t.Parallel()
	var out countingBuffer
	b := packets.NewBatchWriter(&out)
	if err := b.Queue(packets.TaskAck{ID: 1}); err != nil {
		t.Fatal(err)
	}
	b.YieldAndFlush()
	if out.writes != 1 || out.buf.Len() != len(packets.Encode(packets.TaskAck{})) {
		t.Fatalf("YieldAndFlush: %d writes of %d bytes, want the queued frame", out.writes, out.buf.Len())
	}
	b.YieldAndFlush() // nothing queued: no write
	if out.writes != 1 {
		t.Fatalf("YieldAndFlush with nothing queued wrote")
	}
}

// waitClosing waits until b refuses frames because Close has begun.
func waitClosing(t *testing.T, b *packets.BatchWriter) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		err := b.Queue(packets.TaskAck{ID: 999})
		if errors.Is(err, packets.ErrWriterClosed) {
			return
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Queue during Close: %v, want ErrWriterClosed", err)
		}
	}
}

// A frame of exactly MaxPayload bytes is queued; one byte more is refused.
func TestBatchWriterFrameCap(t *testing.T) {
	t.Parallel()
	var out countingBuffer
	b := packets.NewBatchWriter(&out)
	const resultHeader = 8 + 1 + 8 + 4 // id, ok, compute time, body length
	fits := packets.TaskResult{Body: string(make([]byte, packets.MaxPayload-resultHeader))}
	if err := b.Write(fits); err != nil {
		t.Fatalf("a frame of exactly MaxPayload bytes: %v", err)
	}
	if err := b.Write(packets.TaskResult{Body: fits.Body + "x"}); err == nil {
		t.Fatal("a frame of MaxPayload+1 bytes was queued")
	}
	b.Close()
	if out.buf.Len() != packets.HeaderSize+packets.MaxPayload {
		t.Fatalf("%d bytes written, want the one full frame", out.buf.Len())
	}
}

// YieldAndFlush while another caller is writing only queues: it neither
// writes beside it nor waits for it.
func TestBatchWriterYieldAndFlushLeavesABusyStream(t *testing.T) {
	t.Parallel()
	g, b, first := stuckWrite()
	if err := b.Queue(packets.TaskAck{ID: 1}); err != nil {
		t.Fatal(err)
	}
	b.YieldAndFlush()
	g.mu.Lock()
	writes := g.writes
	g.mu.Unlock()
	if writes != 0 {
		t.Fatalf("YieldAndFlush wrote beside a write in progress")
	}
	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	b.Close()
	if g.writes != 2 {
		t.Fatalf("%d writes, want 2: the first frame, then the one queued behind it", g.writes)
	}
}

// The first failure sticks: a write failing after the writer already gave
// up on a peer that stopped reading is not reported again, and Close keeps
// the first error rather than ErrWriterClosed.
func TestBatchWriterKeepsTheFirstError(t *testing.T) {
	t.Parallel()
	g := newStepper(1)
	g.fail = errors.New("link reset")
	b := packets.NewBatchWriter(g)
	wrote := make(chan struct{})
	go func() { _ = b.Write(packets.TaskAck{}); close(wrote) }()
	<-g.entered
	body := string(make([]byte, 1<<20-64))
	var first error
	for i := 0; i < packets.MaxPending>>20+2 && first == nil; i++ {
		first = b.Queue(packets.TaskResult{Body: body})
	}
	if first == nil {
		t.Fatal("the writer never gave up on a peer that stopped reading")
	}
	<-b.Failed()
	g.release <- struct{}{} // the stuck write now fails too
	<-wrote
	b.Close()
	if err := b.Write(packets.TaskAck{}); err != first {
		t.Fatalf("Write after the failure and Close: %v, want the first error %v", err, first)
	}
	if err := b.Err(); err != first {
		t.Fatalf("Err after a second failure: %v, want the first error %v", err, first)
	}
}
