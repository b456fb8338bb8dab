package packets_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
)

// seedLimit keeps fuzz seeds small so that mutation stays fast; the 200 KB
// result is covered by the unit tests.
const seedLimit = 4096

// FuzzDecode: Decode never panics, fails only with ErrMalformed, and every
// message it accepts re-encodes to exactly the input (the encoding is
// canonical: str8 truncation cannot occur for decoded values) and decodes
// again to the same message.
func FuzzDecode(f *testing.F) {
	for _, c := range smallCorpus(seedLimit) {
		f.Add(packets.Encode(c.m))
	}
	for _, c := range malformedFrames() {
		if len(c.b) <= seedLimit {
			f.Add(c.b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := packets.Decode(data)
		if err != nil {
			if !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			if m != nil {
				t.Fatalf("Decode returned %#v with error %v", m, err)
			}
		} else {
			checkCanonical(t, m, data)
		}

		// The payload decoder on its own, with the first byte as the type.
		if len(data) == 0 {
			return
		}
		typ, payload := packets.Type(data[0]), data[1:]
		m, err = packets.DecodePayload(typ, payload)
		if err != nil {
			if !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("DecodePayload error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if m.Type() != typ && (typ != packets.TypeLoadReport || m.Type() != packets.TypeLoadReportWorkers) {
			t.Fatalf("DecodePayload(%v) returned a %v", typ, m.Type())
		}
		if len(payload) <= packets.MaxPayload {
			checkCanonical(t, m, packets.Append(nil, m))
			if enc := encodeAs(m, typ); !bytes.Equal(enc[packets.HeaderSize:], payload) {
				t.Fatalf("DecodePayload(%v, %x) = %#v re-encodes to payload %x", typ, payload, m, enc[packets.HeaderSize:])
			}
		}
	})
}

// checkCanonical checks that m, decoded from frame, encodes back to frame
// and decodes again to m.
func checkCanonical(t *testing.T, m packets.Message, frame []byte) {
	t.Helper()
	enc := encodeAs(m, packets.Type(frame[1]))
	if !bytes.Equal(enc, frame) {
		t.Fatalf("%#v decoded from %x re-encodes to %x", m, frame, enc)
	}
	m2, err := packets.Decode(enc)
	if err != nil {
		t.Fatalf("re-encoded %#v does not decode: %v", m, err)
	}
	if !sameMessage(m2, m) {
		t.Fatalf("re-decoded %#v, want %#v", m2, m)
	}
}

// oldReportSize is a type-6 LoadReport's payload: the fields before Workers.
const oldReportSize = 4 + 8 + 8 + 8 + 8 + 4

// encodeAs is m's frame as a frame of type typ carries it: Encode's, except
// for a LoadReport decoded from the older type 6, which this code encodes as
// type 25 with its newer fields (zero, as decoded) appended.
func encodeAs(m packets.Message, typ packets.Type) []byte {
	enc := packets.Encode(m)
	if typ != packets.TypeLoadReport || packets.Type(enc[1]) != packets.TypeLoadReportWorkers {
		return enc
	}
	if !bytes.Equal(enc[packets.HeaderSize+oldReportSize:], make([]byte, len(enc)-packets.HeaderSize-oldReportSize)) {
		return enc // newer fields set: not what a type-6 frame decodes to
	}
	return frame(packets.Version, packets.TypeLoadReport, enc[packets.HeaderSize:packets.HeaderSize+oldReportSize])
}

// FuzzReadFrame reads frames from a stream until an error, with ReadFrame
// and with FrameReader (frames in and larger than its buffer): it never panics,
// ends with io.EOF, io.ErrUnexpectedEOF or ErrMalformed, and the frames it
// returned re-encode to exactly the prefix of the stream they came from.
func FuzzReadFrame(f *testing.F) {
	var all []byte
	for _, c := range smallCorpus(seedLimit) {
		b := packets.Encode(c.m)
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Add(all[:len(all)-1])
	for _, c := range malformedFrames() {
		if len(c.b) <= seedLimit {
			f.Add(cat(packets.Encode(packets.TaskAck{ID: 1}), c.b))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readers := []struct {
			name string
			read func() (packets.Message, error)
		}{
			{"ReadFrame", func() func() (packets.Message, error) {
				r := bufio.NewReaderSize(bytes.NewReader(data), 16)
				return func() (packets.Message, error) { return packets.ReadFrame(r) }
			}()},
			// 16 bytes: most frames take the path for frames larger than the buffer.
			{"FrameReader/16", packets.NewFrameReader(bytes.NewReader(data), 16).Read},
			{"FrameReader/64K", packets.NewFrameReader(bytes.NewReader(data), 64<<10).Read},
		}
		for _, rd := range readers {
			checkFrameStream(t, rd.name, data, rd.read)
		}
	})
}

// checkFrameStream reads frames with read until an error and checks them
// against the stream data they came from.
func checkFrameStream(t *testing.T, name string, data []byte, read func() (packets.Message, error)) {
	var reencoded []byte
	for {
		m, err := read()
		if err != nil {
			if m != nil {
				t.Fatalf("%s returned %#v with error %v", name, m, err)
			}
			// Only a bare io.EOF means a clean end, and only at the end of
			// the stream; testdata/fuzz/FuzzReadFrame keeps the input that
			// once showed a truncated frame passing for one.
			if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("%s: unexpected error %v", name, err)
			}
			if err == io.EOF && len(reencoded) != len(data) {
				t.Fatalf("%s: io.EOF after %d of %d bytes", name, len(reencoded), len(data))
			}
			return
		}
		reencoded = append(reencoded, encodeAs(m, packets.Type(data[len(reencoded)+1]))...)
		if !bytes.HasPrefix(data, reencoded) {
			t.Fatalf("%s: frames read so far re-encode to %x, not a prefix of the stream %x", name, reencoded, data)
		}
	}
}
