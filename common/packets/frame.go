package packets

import (
	"bufio"
	"fmt"
	"io"
	"sync"
)

// ReadFrame reads one length-prefixed frame from r and decodes it. The
// length is checked against MaxPayload before anything is allocated. It
// reads exactly the frame's bytes, so a frame can be read straight from a
// connection before handing it to a buffered reader; a stream of frames
// should be read through a bufio.Reader.
func ReadFrame(r io.Reader) (Message, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	t, n, err := ParseHeader(h[:])
	if err != nil {
		return nil, err
	}
	return readPayload(r, t, n)
}

// truncated wraps err, met while reading the n-byte payload of a frame of
// type t: an end of stream there is not a clean close.
func truncated(t Type, n int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d-byte %s payload: %w", n, t, err)
}

// readPayload reads and decodes the n-byte payload of a frame of type t.
func readPayload(r io.Reader, t Type, n int) (Message, error) {
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, truncated(t, n, err)
	}
	return DecodePayload(t, p)
}

// FrameReader reads a stream of frames through a buffer of its own. A frame
// that fits the buffer is decoded where it lies, so reading allocates only
// what the decoded message holds; a larger one is read like ReadFrame does.
type FrameReader struct {
	r *bufio.Reader
}

// NewFrameReader returns a FrameReader on r with a buffer of size bytes
// (64 KiB is plenty for task traffic; at least 16).
func NewFrameReader(r io.Reader, size int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, size)}
}

// Read reads and decodes the next frame. A stream ending between frames
// gives io.EOF; ending inside one, an error wrapping io.ErrUnexpectedEOF.
func (f *FrameReader) Read() (Message, error) {
	h, err := f.r.Peek(HeaderSize)
	if err != nil {
		if err == io.EOF && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	t, n, err := ParseHeader(h)
	if err != nil {
		return nil, err
	}
	if HeaderSize+n > f.r.Size() {
		_, _ = f.r.Discard(HeaderSize) // Peek returned these bytes: Discard cannot fail
		return readPayload(f.r, t, n)
	}
	frame, err := f.r.Peek(HeaderSize + n)
	if err != nil {
		return nil, truncated(t, n, err)
	}
	m, err := DecodePayload(t, frame[HeaderSize:])
	_, _ = f.r.Discard(HeaderSize + n)
	return m, err
}

// Buffered reports whether the next Read will not wait for the network: a
// whole frame (or bytes that cannot start one) waits in the buffer. A reader
// answering frames can hold its answers back until the batch is done.
func (f *FrameReader) Buffered() bool {
	n := f.r.Buffered()
	if n < HeaderSize {
		return false
	}
	h, _ := f.r.Peek(HeaderSize) // already buffered: Peek does not read
	_, size, err := ParseHeader(h)
	return err != nil || n >= HeaderSize+size
}

// Writer writes whole frames to a stream; it is safe for concurrent use, and
// each frame goes out in a single Write so frames never interleave.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write frames and writes m.
func (w *Writer) Write(m Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = Append(w.buf[:0], m)
	defer func() {
		if cap(w.buf) > 64<<10 {
			w.buf = nil // do not pin a large result's buffer
		}
	}()
	if len(w.buf) > HeaderSize+MaxPayload {
		return fmt.Errorf("%s of %d bytes exceeds the %d-byte frame cap", m.Type(), len(w.buf), MaxPayload)
	}
	_, err := w.w.Write(w.buf)
	return err
}
