package packets

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// BatchWriter writes frames to a stream from one goroutine, coalescing the
// frames queued meanwhile into a single Write: under load, many frames per
// system call instead of one. Write encodes on the caller's goroutine (so
// the size cap is checked there) and only queues the bytes.
type BatchWriter struct {
	w     io.Writer
	onErr func(error)
	queue chan []byte
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the writing goroutine has ended
	once  sync.Once

	// closing is write-locked by Close to set closed; Write holds it for
	// reading while it queues, so every frame queued before Close is
	// flushed and none is queued after.
	closing sync.RWMutex
	closed  bool

	mu  sync.Mutex
	err error // the first write error, or ErrWriterClosed
}

// ErrWriterClosed is returned by Write after Close.
var ErrWriterClosed = errors.New("frame writer closed")

// maxBatch caps the bytes coalesced into one Write (a single larger frame
// is still written whole).
const maxBatch = 64 << 10

// NewBatchWriter starts a writer on w. onErr, if not nil, is called once
// with the first write error, on a goroutine of its own (so it may call
// Close).
func NewBatchWriter(w io.Writer, queueLen int, onErr func(error)) *BatchWriter {
	b := &BatchWriter{w: w, onErr: onErr, queue: make(chan []byte, queueLen), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Write queues m. It blocks while the queue is full, and fails once the
// writer has failed or been closed.
func (b *BatchWriter) Write(m Message) error {
	frame := Encode(m)
	if len(frame) > HeaderSize+MaxPayload {
		return fmt.Errorf("%s of %d bytes exceeds the %d-byte frame cap", m.Type(), len(frame), MaxPayload)
	}
	b.closing.RLock()
	defer b.closing.RUnlock()
	if b.closed {
		return ErrWriterClosed
	}
	select {
	case b.queue <- frame:
		return nil
	case <-b.done:
		return b.Err()
	}
}

// Err returns why the writer stopped, or nil while it runs.
func (b *BatchWriter) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Close writes what is already queued, then stops the writer and waits for
// it. It does not close the underlying stream.
func (b *BatchWriter) Close() {
	b.closing.Lock()
	b.closed = true
	b.closing.Unlock()
	b.once.Do(func() { close(b.stop) })
	<-b.done
}

func (b *BatchWriter) run() {
	defer close(b.done)
	var buf []byte
	for {
		var first []byte
		select {
		case first = <-b.queue:
		case <-b.stop:
			b.flushQueued(buf)
			b.fail(ErrWriterClosed)
			return
		}
		buf = append(buf[:0], first...)
	more:
		for len(buf) < maxBatch {
			select {
			case f := <-b.queue:
				buf = append(buf, f...)
			default:
				break more
			}
		}
		if !b.write(buf) {
			return
		}
		if cap(buf) > 4*maxBatch {
			buf = nil // do not pin a large result's buffer
		}
	}
}

// flushQueued writes the frames queued before Close.
func (b *BatchWriter) flushQueued(buf []byte) {
	buf = buf[:0]
	for {
		select {
		case f := <-b.queue:
			buf = append(buf, f...)
		default:
			if len(buf) > 0 {
				b.write(buf)
			}
			return
		}
	}
}

func (b *BatchWriter) write(buf []byte) bool {
	if _, err := b.w.Write(buf); err != nil {
		if b.fail(err) && b.onErr != nil {
			go b.onErr(err)
		}
		return false
	}
	return true
}

// fail records err if it is the first; it reports whether it was.
func (b *BatchWriter) fail(err error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return false
	}
	b.err = err
	return true
}
