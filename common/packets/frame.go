package packets

import (
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
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header promised more: not a clean close
		}
		return nil, fmt.Errorf("reading %d-byte %s payload: %w", n, t, err)
	}
	return DecodePayload(t, p)
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
