package securelink

import (
	"bufio"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// MaxRecord is the most plaintext one record carries.
const MaxRecord = 32 << 10

const (
	headerSize = 4
	tagSize    = 16
	nonceSize  = 12
)

// ErrAuth means a record failed to open: the peer does not hold this join's
// keys, or the stream was replayed, reordered or altered.
var ErrAuth = errors.New("link record fails authentication (wrong secret, or tampered with)")

// conn is an encrypted net.Conn. Reads and writes may run concurrently
// (one reader, any writers); deadlines apply to the underlying connection.
// The first error of each direction sticks: after a failed or timed-out
// read the stream's position is lost, so the link is over.
type conn struct {
	net.Conn

	rmu   sync.Mutex
	open  cipher.AEAD
	r     *bufio.Reader
	rseq  uint64
	rbuf  []byte // the current record, sealed then opened in place
	plain []byte // what is left of its plaintext
	rerr  error

	wmu  sync.Mutex
	seal cipher.AEAD
	wseq uint64
	wbuf []byte
	werr error
}

func newConn(c net.Conn, open, seal cipher.AEAD) *conn {
	// A small read buffer: records are usually one batch of a few frames,
	// and a larger record is read straight into rbuf.
	return &conn{Conn: c, open: open, seal: seal, r: bufio.NewReaderSize(c, 8<<10)}
}

func nonceFor(seq uint64) []byte {
	var n [nonceSize]byte
	binary.BigEndian.PutUint64(n[nonceSize-8:], seq)
	return n[:]
}

// Read returns plaintext from the current record, opening the next one when
// it is used up.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for len(c.plain) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.rerr = c.readRecord(); c.rerr != nil {
			return 0, c.rerr
		}
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	return n, nil
}

func (c *conn) readRecord() error {
	var h [headerSize]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return err // io.EOF at a record boundary is the peer's clean close
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < tagSize || n > MaxRecord+tagSize {
		return fmt.Errorf("%w: record of %d bytes", ErrAuth, n)
	}
	if cap(c.rbuf) < int(n) {
		c.rbuf = make([]byte, n)
	}
	b := c.rbuf[:n]
	if _, err := io.ReadFull(c.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading link record: %w", err)
	}
	plain, err := c.open.Open(b[:0], nonceFor(c.rseq), b, h[:])
	if err != nil {
		return ErrAuth
	}
	c.rseq++
	c.plain = plain
	return nil
}

// Write seals p into records and writes them in one write.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	records := (len(p) + MaxRecord - 1) / MaxRecord
	b := c.wbuf[:0]
	if need := len(p) + records*(headerSize+tagSize); cap(b) < need {
		b = make([]byte, 0, need)
	}
	for rest := p; len(rest) > 0; {
		chunk := rest[:min(len(rest), MaxRecord)]
		rest = rest[len(chunk):]
		h := binary.BigEndian.AppendUint32(b[len(b):len(b)], uint32(len(chunk)+tagSize))
		b = c.seal.Seal(b[:len(b)+headerSize], nonceFor(c.wseq), chunk, h)
		c.wseq++
	}
	if cap(b) <= 2*(MaxRecord+headerSize+tagSize) {
		c.wbuf = b // keep a buffer of the usual size, not the rare huge one
	}
	if _, err := c.Conn.Write(b); err != nil {
		c.werr = err
		return 0, err
	}
	return len(p), nil
}
