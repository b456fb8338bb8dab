package packets_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// A SlaveList is written with at most MaxSlaveList entries (its count is a
// u16): one more would wrap the count and corrupt the frame.
func TestSlaveListCap(t *testing.T) {
	t.Parallel()
	entries := make([]packets.SlaveEntry, packets.MaxSlaveList+1)
	for i := range entries {
		entries[i] = packets.SlaveEntry{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), ID: uint16(i), MetricsPort: 9}
	}
	m, err := packets.Decode(packets.Encode(packets.SlaveList{Seq: 3, Slaves: entries}))
	if err != nil {
		t.Fatal(err)
	}
	got := m.(packets.SlaveList).Slaves
	if len(got) != packets.MaxSlaveList || got[len(got)-1] != entries[packets.MaxSlaveList-1] {
		t.Fatalf("decoded %d entries, want the first %d", len(got), packets.MaxSlaveList)
	}
}

// A count of entries the payload cannot hold is refused by the size check,
// before anything is allocated for it, not later by a read that runs out.
func TestSlaveListCountCheckedBeforeAllocating(t *testing.T) {
	t.Parallel()
	for _, n := range []uint16{2, 1000, 65535} {
		p := binary.BigEndian.AppendUint32(nil, 1)
		p = binary.BigEndian.AppendUint16(p, n)
		p = append(p, make([]byte, int(n)*9-1)...) // one byte short of the smallest entries
		_, err := packets.DecodePayload(packets.TypeSlaveList, p)
		if !errors.Is(err, packets.ErrMalformed) || !strings.Contains(err.Error(), "slave entries in") {
			t.Fatalf("count %d in %d bytes: %v, want the size check's refusal", n, len(p), err)
		}
	}
}

// A stream cut inside a frame header, even after one byte, is not a clean
// end: io.ErrUnexpectedEOF, for ReadFrame and FrameReader alike.
func TestStreamCutInsideAHeader(t *testing.T) {
	t.Parallel()
	frame := packets.Encode(packets.LoadRequest{Seq: 1})
	for cut := 1; cut < packets.HeaderSize; cut++ {
		if _, err := packets.NewFrameReader(bytes.NewReader(frame[:cut]), 64).Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("FrameReader, header cut after %d bytes: %v, want io.ErrUnexpectedEOF", cut, err)
		}
		if _, err := packets.ReadFrame(bytes.NewReader(frame[:cut])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadFrame, header cut after %d bytes: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	if _, err := packets.NewFrameReader(bytes.NewReader(nil), 64).Read(); err != io.EOF {
		t.Errorf("FrameReader on an empty stream: %v, want io.EOF", err)
	}
}

// Open checks the frame's shape before its MAC: a sealed frame with bytes
// after its length, or too short to hold an inner frame, is malformed
// whatever the key, and never reaches the MAC check.
func TestOpenChecksShapeBeforeMAC(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_790_000_000_000)
	good := packets.Seal(sealKey, packets.LoadRequest{Seq: 5}, at, 1)
	short := sealInner(sealKey, at, 1, nil) // timestamp, nonce and MAC, no inner frame
	for name, frame := range map[string][]byte{
		"a trailing byte": append(append([]byte(nil), good...), 0),
		"no inner frame":  short,
	} {
		for _, key := range [][]byte{sealKey, []byte("another key")} {
			_, _, _, err := packets.Open(key, frame)
			if !errors.Is(err, packets.ErrMalformed) || errors.Is(err, packets.ErrBadMAC) {
				t.Errorf("%s, key %q: %v, want ErrMalformed before any MAC check", name, key, err)
			}
		}
	}
}

// A sealed frame inside a sealed frame is refused as such.
func TestOpenRefusesNestedSeals(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_790_000_000_000)
	inner := packets.Seal(sealKey, packets.JoinRequest{}, at, 1)
	_, _, _, err := packets.Open(sealKey, sealInner(sealKey, at, 2, inner))
	if !errors.Is(err, packets.ErrMalformed) || !strings.Contains(err.Error(), "sealed frame inside a sealed frame") {
		t.Fatalf("a seal in a seal: %v", err)
	}
}

// sealInner seals arbitrary inner bytes under key the way Seal seals a
// frame, so that tests and the fuzzer get past the MAC with any inner bytes.
func sealInner(key []byte, at time.Time, nonce uint64, inner []byte) []byte {
	b := []byte{packets.Version, byte(packets.TypeSealed), 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, nonce)
	b = append(b, inner...)
	binary.BigEndian.PutUint32(b[2:], uint32(len(b)-packets.HeaderSize+packets.MACSize))
	return appendMAC(key, b)
}
