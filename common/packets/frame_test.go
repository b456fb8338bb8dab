package packets_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/lbproject/loadbalancer/common/packets"
)

// readAll reads frames from r until an error and returns them with that error.
func readAll(r *bufio.Reader) ([]packets.Message, error) {
	var ms []packets.Message
	for {
		m, err := packets.ReadFrame(r)
		if err != nil {
			return ms, err
		}
		ms = append(ms, m)
	}
}

func TestFramingBackToBack(t *testing.T) {
	t.Parallel()
	msgs := corpus()
	var stream bytes.Buffer
	w := packets.NewWriter(&stream)
	var want []byte
	for _, c := range msgs {
		if err := w.Write(c.m); err != nil {
			t.Fatalf("Write(%s): %v", c.name, err)
		}
		want = packets.Append(want, c.m)
	}
	data := stream.Bytes()
	if !bytes.Equal(data, want) {
		t.Fatalf("Writer produced %d bytes that differ from the %d bytes of Append", len(data), len(want))
	}

	readers := []struct {
		name string
		r    func() *bufio.Reader
	}{
		{"merged", func() *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }},
		{"one byte per Read", func() *bufio.Reader { return bufio.NewReader(iotest.OneByteReader(bytes.NewReader(data))) }},
		{"one byte per Read, 16-byte bufio", func() *bufio.Reader {
			return bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 16)
		}},
		{"half reads", func() *bufio.Reader { return bufio.NewReader(iotest.HalfReader(bytes.NewReader(data))) }},
		{"EOF with last data", func() *bufio.Reader { return bufio.NewReader(iotest.DataErrReader(bytes.NewReader(data))) }},
	}
	for _, rc := range readers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAll(rc.r())
			if err != io.EOF {
				t.Errorf("stream ended with %v, want io.EOF", err)
			}
			if len(got) != len(msgs) {
				t.Fatalf("read %d messages, want %d", len(got), len(msgs))
			}
			for i, c := range msgs {
				if !sameMessage(got[i], c.m) {
					t.Errorf("message %d = %#v, want %s %#v", i, got[i], c.name, c.m)
				}
			}
		})
	}
}

// TestReadFrameTruncatedStream cuts a stream at every byte: whole frames
// before the cut are returned, then io.EOF at a frame boundary or
// io.ErrUnexpectedEOF inside a frame, never ErrMalformed.
func TestReadFrameTruncatedStream(t *testing.T) {
	t.Parallel()
	msgs := smallCorpus(512)
	var data []byte
	var ends []int // offset of the end of each frame
	for _, c := range msgs {
		data = packets.Append(data, c.m)
		ends = append(ends, len(data))
	}
	for cut := 0; cut <= len(data); cut++ {
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		atBoundary := cut == 0 || ends[max(whole-1, 0)] == cut
		got, err := readAll(bufio.NewReader(iotest.HalfReader(bytes.NewReader(data[:cut]))))
		if len(got) != whole {
			t.Fatalf("cut at %d: read %d frames, want %d", cut, len(got), whole)
		}
		for i := range got {
			if !sameMessage(got[i], msgs[i].m) {
				t.Fatalf("cut at %d: frame %d = %#v, want %#v", cut, i, got[i], msgs[i].m)
			}
		}
		switch {
		case errors.Is(err, packets.ErrMalformed):
			t.Fatalf("cut at %d: %v, a truncated stream is an io error", cut, err)
		case atBoundary && err != io.EOF:
			t.Fatalf("cut at frame boundary %d: err = %v, want io.EOF", cut, err)
		case !atBoundary && err == io.EOF:
			t.Fatalf("cut inside a frame at %d: bare io.EOF, as if the stream had ended cleanly", cut)
		case !atBoundary && (errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF)):
			t.Fatalf("cut inside a frame at %d: err = %v, want an io error", cut, err)
		}
	}
}

func TestReadFrameRejectsMalformed(t *testing.T) {
	t.Parallel()
	ack := packets.Encode(packets.TaskAck{ID: 77})
	for _, tc := range malformedFrames() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReader(iotest.OneByteReader(bytes.NewReader(cat(ack, tc.b, ack))))
			m, err := packets.ReadFrame(r)
			if err != nil || m != (packets.TaskAck{ID: 77}) {
				t.Fatalf("first frame: %#v, %v", m, err)
			}
			m, err = packets.ReadFrame(r)
			if !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("ReadFrame(%x) = %#v, %v; want ErrMalformed", tc.b, m, err)
			}
			if m != nil {
				t.Errorf("ReadFrame returned a message with its error: %#v", m)
			}
		})
	}
}

// TestReadFrameEOFAfterHeader: a stream that ends right after a complete
// header whose length is non-zero was cut short: io.ErrUnexpectedEOF, not
// the io.EOF of a clean close.
func TestReadFrameEOFAfterHeader(t *testing.T) {
	t.Parallel()
	_, err := packets.ReadFrame(bufio.NewReader(bytes.NewReader(header(packets.Version, packets.TypeTaskAck, 8))))
	if errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// headerOnlyReader serves a header and fails the test if anything reads past
// it: a rejected length must be rejected before any payload is read.
type headerOnlyReader struct {
	t      *testing.T
	header []byte
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.header) == 0 {
		r.t.Errorf("Read(%d bytes) after the header: the payload length was not checked first", len(p))
		return 0, errors.New("read past the header")
	}
	n := copy(p, r.header)
	r.header = r.header[n:]
	return n, nil
}

func TestReadFrameRejectsLengthFromHeaderAlone(t *testing.T) {
	t.Parallel()
	for _, n := range []uint32{packets.MaxPayload + 1, 1 << 24, math.MaxInt32, math.MaxUint32} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			h := header(packets.Version, packets.TypeTaskResult, n)

			// Nothing is read beyond the header.
			r := bufio.NewReaderSize(&headerOnlyReader{t: t, header: h}, 16)
			if m, err := packets.ReadFrame(r); !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("ReadFrame = %#v, %v; want ErrMalformed", m, err)
			}
			r = bufio.NewReader(iotest.OneByteReader(&headerOnlyReader{t: t, header: h}))
			if m, err := packets.ReadFrame(r); !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("ReadFrame one byte at a time = %#v, %v; want ErrMalformed", m, err)
			}

			// With a real stream behind it, at most one bufio buffer is consumed.
			src := bytes.NewReader(cat(h, make([]byte, 2*packets.MaxPayload)))
			const bufSize = 4096
			if _, err := packets.ReadFrame(bufio.NewReaderSize(src, bufSize)); !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("ReadFrame = %v; want ErrMalformed", err)
			}
			if consumed := int(src.Size()) - src.Len(); consumed > bufSize {
				t.Fatalf("consumed %d bytes of the stream, want at most %d", consumed, bufSize)
			}
		})
	}
}

func TestReadFrameStreamErrors(t *testing.T) {
	t.Parallel()
	v := byte(packets.Version)
	for _, tc := range []struct {
		name   string
		stream []byte
		want   error
	}{
		{"empty", nil, io.EOF},
		{"partial header", header(v, packets.TypeTaskAck, 8)[:3], io.ErrUnexpectedEOF},
		{"header only", header(v, packets.TypeTaskAck, 8), io.ErrUnexpectedEOF},
		{"payload cut", cat(header(v, packets.TypeTaskAck, 8), u32(1)), io.ErrUnexpectedEOF},
		{"MaxPayload claimed, little sent", cat(header(v, packets.TypeTaskResult, packets.MaxPayload), u64(1)), io.ErrUnexpectedEOF},
		{"unknown type, empty payload", header(v, 200, 0), packets.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := packets.ReadFrame(bufio.NewReader(bytes.NewReader(tc.stream)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadFrame = %#v, %v; want %v", m, err, tc.want)
			}
			if tc.want != packets.ErrMalformed && errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("truncated stream reported as malformed: %v", err)
			}
		})
	}
	t.Run("header only is not a clean end", func(t *testing.T) {
		t.Parallel()
		_, err := packets.ReadFrame(bufio.NewReader(bytes.NewReader(header(v, packets.TypeTaskAck, 8))))
		if err == io.EOF {
			t.Fatal("a header without its payload was reported as the bare io.EOF of a clean close")
		}
	})
	t.Run("reader error is returned", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		r := bufio.NewReader(io.MultiReader(bytes.NewReader(header(v, packets.TypeTaskAck, 8)), iotest.ErrReader(boom)))
		if _, err := packets.ReadFrame(r); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}

// chunkRecorder records each Write as one chunk and checks that no two
// Writes overlap and that each one carries exactly one whole frame. It has
// no lock of its own: the race detector flags a Writer that does not
// serialize.
type chunkRecorder struct {
	t        *testing.T
	inFlight atomic.Int32
	buf      bytes.Buffer
	writes   int
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	if n := c.inFlight.Add(1); n != 1 {
		c.t.Errorf("%d Writes in flight at once", n)
	}
	defer c.inFlight.Add(-1)
	if _, err := packets.Decode(p); err != nil {
		c.t.Errorf("a Write of %d bytes is not one whole frame: %v", len(p), err)
	}
	c.writes++
	return c.buf.Write(p)
}

func resultFor(g, i int) packets.TaskResult {
	id := uint64(g)<<32 | uint64(i)
	n := (i * 997) % 9000
	if i%50 == 7 {
		n = 70_000 + g // beyond the 64 KB buffer the Writer keeps
	}
	return packets.TaskResult{ID: id, OK: i%2 == 0, Body: strings.Repeat(fmt.Sprintf("%x.", id), n/10+1)}
}

func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	const goroutines, perGoroutine = 16, 120
	rec := &chunkRecorder{t: t}
	w := packets.NewWriter(rec)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				if err := w.Write(resultFor(g, i)); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if rec.writes != goroutines*perGoroutine {
		t.Fatalf("%d Writes reached the stream, want %d", rec.writes, goroutines*perGoroutine)
	}
	got, err := readAll(bufio.NewReader(&rec.buf))
	if err != io.EOF {
		t.Fatalf("stream ended with %v after %d frames", err, len(got))
	}
	next := make([]int, goroutines) // per-goroutine order must be kept
	for _, m := range got {
		r, ok := m.(packets.TaskResult)
		if !ok {
			t.Fatalf("unexpected %#v", m)
		}
		g, i := int(r.ID>>32), int(r.ID&math.MaxUint32)
		if g >= goroutines || i != next[g] {
			t.Fatalf("frame for goroutine %d message %d, want message %d", g, i, next[min(g, goroutines-1)])
		}
		if r != resultFor(g, i) {
			t.Fatalf("frame %d/%d corrupted", g, i)
		}
		next[g]++
	}
	for g, n := range next {
		if n != perGoroutine {
			t.Errorf("goroutine %d: %d frames, want %d", g, n, perGoroutine)
		}
	}
}

func TestWriterFrameCap(t *testing.T) {
	t.Parallel()
	const overhead = 8 + 1 + 8 + 4 // TaskResult: id, ok, compute time, body length
	for _, tc := range []struct {
		name    string
		bodyLen int
		wantErr bool
	}{
		{"payload exactly MaxPayload", packets.MaxPayload - overhead, false},
		{"payload MaxPayload+1", packets.MaxPayload - overhead + 1, true},
		{"body of MaxPayload", packets.MaxPayload, true},
		{"body of 2 MaxPayload", 2 * packets.MaxPayload, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &chunkRecorder{t: t}
			w := packets.NewWriter(rec)
			m := packets.TaskResult{ID: 3, OK: true, Body: strings.Repeat("9", tc.bodyLen)}
			err := w.Write(m)
			if tc.wantErr {
				if err == nil {
					t.Fatal("Write of an oversized message succeeded")
				}
				if rec.writes != 0 || rec.buf.Len() != 0 {
					t.Fatalf("oversized Write put %d bytes in %d Writes on the stream", rec.buf.Len(), rec.writes)
				}
			} else {
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				got, err := packets.ReadFrame(bufio.NewReader(bytes.NewReader(rec.buf.Bytes())))
				if err != nil || got != m {
					t.Fatalf("ReadFrame of the largest frame: err = %v, equal = %v", err, got == m)
				}
			}
			// The Writer stays usable.
			before := rec.buf.Len()
			if err := w.Write(packets.TaskAck{ID: 4}); err != nil {
				t.Fatalf("Write after: %v", err)
			}
			if got, err := packets.Decode(rec.buf.Bytes()[before:]); err != nil || got != (packets.TaskAck{ID: 4}) {
				t.Fatalf("frame after = %#v, %v", got, err)
			}
		})
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterReturnsWriteError(t *testing.T) {
	t.Parallel()
	w := packets.NewWriter(failingWriter{io.ErrClosedPipe})
	if err := w.Write(packets.TaskAck{ID: 1}); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v, want %v", err, io.ErrClosedPipe)
	}
}

func BenchmarkReadFrame(b *testing.B) {
	var data []byte
	for _, c := range smallCorpus(4096) {
		data = packets.Append(data, c.m)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readAll(bufio.NewReader(bytes.NewReader(data))); err != io.EOF {
			b.Fatal(err)
		}
	}
}

// chunks is a stream that returns its chunks one Read at a time, like TCP
// segments arriving.
type chunks [][]byte

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if len((*c)[0]) == 0 {
		*c = (*c)[1:]
	}
	return n, nil
}

// Buffered says whether the next Read can be served from the buffer: only
// a whole frame counts, not the start of one that is still arriving.
func TestFrameReaderBufferedMeansAWholeFrame(t *testing.T) {
	t.Parallel()
	a, b, c := packets.Encode(packets.TaskAck{ID: 1}), packets.Encode(packets.TaskAck{ID: 2}), packets.Encode(packets.TaskAck{ID: 3})
	// Segment 1: a, b, and c's header and 2 of its 8 payload bytes; segment 2: the rest.
	src := chunks{append(append(append([]byte{}, a...), b...), c[:8]...), c[8:]}
	r := packets.NewFrameReader(&src, 64)
	want := []bool{true, false, false} // after a: b waits; after b: half of c; after c: nothing
	for i, w := range want {
		m, err := r.Read()
		if err != nil || m.(packets.TaskAck).ID != uint64(i+1) {
			t.Fatalf("frame %d: %v, %v", i+1, m, err)
		}
		if got := r.Buffered(); got != w {
			t.Errorf("after frame %d: Buffered() = %v, want %v", i+1, got, w)
		}
	}
}
