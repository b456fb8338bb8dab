package securelink

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
)

// recorder is a net.Conn whose writes are kept, and whose reads come from
// a fixed stream: records are captured on one side and fed to the other.
type recorder struct {
	net.Conn // nil: only Read and Write are used
	in       io.Reader
	out      bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error)  { return r.in.Read(p) }
func (r *recorder) Write(p []byte) (int, error) { return r.out.Write(p) }

// sealed returns what the master's end writes for the given writes.
func sealed(s *Session, kind packets.Link, writes ...[]byte) []byte {
	rec := &recorder{in: strings.NewReader("")}
	c := s.Master(rec, kind)
	for _, w := range writes {
		if _, err := c.Write(w); err != nil {
			panic(err)
		}
	}
	return rec.out.Bytes()
}

// opened reads everything the node's end makes of stream.
func opened(s *Session, kind packets.Link, stream []byte) ([]byte, error) {
	return io.ReadAll(s.Node(&recorder{in: bytes.NewReader(stream)}, kind))
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := NewSession([]byte("k"), 1, 2)
	big := make([]byte, 3*MaxRecord+17)
	_, _ = rand.Read(big)
	for _, tt := range []struct {
		name   string
		writes [][]byte
	}{
		{"one small", [][]byte{[]byte("hello")}},
		{"empty write", [][]byte{{}, []byte("x")}},
		{"exactly one record", [][]byte{big[:MaxRecord]}},
		{"several records in one write", [][]byte{big}},
		{"many writes", [][]byte{big[:10], big[10 : MaxRecord+5], big[MaxRecord+5:]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := opened(s, packets.LinkTask, sealed(s, packets.LinkTask, tt.writes...))
			if want := bytes.Join(tt.writes, nil); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(want))
			}
		})
	}
}

// The plaintext never appears on the wire.
func TestNoPlaintextOnWire(t *testing.T) {
	t.Parallel()
	secret := []byte("2880067194370816120")
	wire := sealed(NewSession([]byte("k"), 1, 2), packets.LinkResult, secret)
	if bytes.Contains(wire, secret) {
		t.Fatal("plaintext on the wire")
	}
}

// Anything but the exact stream of this join, link and direction fails.
func TestStreamsThatMustNotOpen(t *testing.T) {
	t.Parallel()
	s := NewSession([]byte("k"), 1, 2)
	a, b := []byte("first frame"), []byte("second frame")
	good := sealed(s, packets.LinkTask, a, b)
	first := len(sealed(s, packets.LinkTask, a))
	reordered := append(append([]byte{}, good[first:]...), good[:first]...)
	replayed := append(append([]byte{}, good...), good[:first]...)
	tampered := append([]byte{}, good...)
	tampered[len(tampered)-1] ^= 1
	reverse := &recorder{in: strings.NewReader("")}
	_, _ = s.Node(reverse, packets.LinkTask).Write(a) // the node's own direction
	for _, tt := range []struct {
		name   string
		s      *Session
		kind   packets.Link
		stream []byte
		want   error
	}{
		{"other secret", NewSession([]byte("K"), 1, 2), packets.LinkTask, good, ErrAuth},
		{"other request nonce", NewSession([]byte("k"), 9, 2), packets.LinkTask, good, ErrAuth},
		{"other reply nonce", NewSession([]byte("k"), 1, 9), packets.LinkTask, good, ErrAuth},
		{"other link", s, packets.LinkLoad, good, ErrAuth},
		{"reordered", s, packets.LinkTask, reordered, ErrAuth},
		{"replayed record", s, packets.LinkTask, replayed, ErrAuth},
		{"tampered", s, packets.LinkTask, tampered, ErrAuth},
		{"reflected", s, packets.LinkTask, reverse.out.Bytes(), ErrAuth},
		{"cut inside a record", s, packets.LinkTask, good[:len(good)-3], io.ErrUnexpectedEOF},
		{"huge length", s, packets.LinkTask, []byte{0xff, 0xff, 0xff, 0xff}, ErrAuth},
		{"plain frame", s, packets.LinkTask, packets.Encode(packets.LinkHello{Token: 1, Link: packets.LinkTask}), ErrAuth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := opened(tt.s, tt.kind, tt.stream); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNilSessionIsPlain(t *testing.T) {
	t.Parallel()
	var s *Session
	c, _ := net.Pipe()
	defer c.Close()
	if s.Master(c, packets.LinkLoad) != c || s.Node(c, packets.LinkLoad) != c {
		t.Fatal("a nil session must not wrap the connection")
	}
}

// Over a real connection, reads and writes in both directions at once.
func TestOverTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewSession([]byte("k"), 3, 4)
	payload := bytes.Repeat([]byte("0123456789"), 50_000)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		n := s.Node(c, packets.LinkResult)
		go func() { _, _ = n.Write(payload) }()
		got := make([]byte, len(payload))
		_, err = io.ReadFull(n, got)
		if err == nil && !bytes.Equal(got, payload) {
			err = errors.New("node read other bytes")
		}
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := s.Master(c, packets.LinkResult)
	go func() { _, _ = m.Write(payload) }()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(m, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("master read: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// FuzzRead: a node's end fed any bytes never panics and returns only what
// was sealed under its keys; its errors are ErrAuth or a short stream.
func FuzzRead(f *testing.F) {
	s := NewSession([]byte("k"), 1, 2)
	f.Add(sealed(s, packets.LinkTask, []byte("hello"), []byte("world")))
	f.Add([]byte{0, 0, 0, 16})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, err := opened(s, packets.LinkTask, stream)
		if err != nil && !errors.Is(err, ErrAuth) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(got) > len(stream) {
			t.Fatalf("read %d bytes from a %d-byte stream", len(got), len(stream))
		}
	})
}

func BenchmarkRoundTrip(b *testing.B) {
	s := NewSession([]byte("k"), 1, 2)
	frame := make([]byte, 200) // a batch of a few task frames
	rec := &recorder{}
	w := s.Master(rec, packets.LinkTask)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		rec.out.Reset()
		_, _ = w.Write(frame)
	}
}
