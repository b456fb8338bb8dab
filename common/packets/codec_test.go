package packets_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
)

// frame builds a frame with a correct length prefix around payload.
func frame(version byte, t packets.Type, payload []byte) []byte {
	b := []byte{version, byte(t)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// header builds a bare header claiming length n.
func header(version byte, t packets.Type, n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{version, byte(t)}, n)
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

func u16(v uint16) []byte  { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte  { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte  { return binary.BigEndian.AppendUint64(nil, v) }
func f64(v float64) []byte { return u64(math.Float64bits(v)) }

// sameMessage reports whether a and b are equal values with bit-identical
// encodings (so -0.0 is not confused with +0.0).
func sameMessage(a, b packets.Message) bool {
	return reflect.DeepEqual(a, b) && bytes.Equal(packets.Encode(a), packets.Encode(b))
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range corpus() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := packets.Encode(tc.m)
			if len(b) < packets.HeaderSize {
				t.Fatalf("frame of %d bytes", len(b))
			}
			if b[0] != packets.Version {
				t.Errorf("version byte %d, want %d", b[0], packets.Version)
			}
			if got := packets.Type(b[1]); got != tc.m.Type() {
				t.Errorf("type byte %v, want %v", got, tc.m.Type())
			}
			if n := binary.BigEndian.Uint32(b[2:6]); int(n) != len(b)-packets.HeaderSize {
				t.Errorf("length prefix %d, payload has %d bytes", n, len(b)-packets.HeaderSize)
			}
			typ, n, err := packets.ParseHeader(b[:packets.HeaderSize])
			if err != nil || typ != tc.m.Type() || n != len(b)-packets.HeaderSize {
				t.Errorf("ParseHeader = %v, %d, %v", typ, n, err)
			}

			got, err := packets.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !sameMessage(got, tc.m) {
				t.Fatalf("Decode(Encode(m)) = %#v, want %#v", got, tc.m)
			}
			got, err = packets.DecodePayload(tc.m.Type(), b[packets.HeaderSize:])
			if err != nil || !sameMessage(got, tc.m) {
				t.Fatalf("DecodePayload = %#v, %v; want %#v", got, err, tc.m)
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range smallCorpus(4096) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("prefix")
			b := packets.Append(append([]byte(nil), prefix...), tc.m)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("Append clobbered the prefix: %q", b[:len(prefix)])
			}
			if want := packets.Encode(tc.m); !bytes.Equal(b[len(prefix):], want) {
				t.Fatalf("Append after a prefix = %x, Encode = %x", b[len(prefix):], want)
			}
		})
	}
}

// TestDecodeDoesNotAlias checks that decoded strings do not share memory with
// the input buffer, which callers reuse for the next datagram.
func TestDecodeDoesNotAlias(t *testing.T) {
	t.Parallel()
	for _, tc := range []namedMessage{
		{"reply", packets.JoinReply{Reason: "busy"}},
		{"nak", packets.TaskNak{ID: 1, Reason: "too big"}},
		{"result", packets.TaskResult{ID: 1, OK: true, Body: "12345"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := packets.Encode(tc.m)
			got, err := packets.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for i := packets.HeaderSize; i < len(b); i++ {
				b[i] = 'X'
			}
			if got != tc.m {
				t.Fatalf("decoded message changed with its input buffer: %#v", got)
			}
		})
	}
}

// TestStr8Truncation: reasons longer than 255 bytes are cut at 255 bytes on
// the wire (appendStr8), shorter ones are kept whole.
func TestStr8Truncation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefghij", 100) // 1000 bytes, distinct prefixes
	for _, n := range []int{0, 1, 254, 255, 256, 300, 1000} {
		s := long[:n]
		want := s[:min(n, 255)]
		for _, m := range []packets.Message{
			packets.JoinReply{Token: 5, Reason: s},
			packets.TaskNak{ID: 5, Reason: s},
		} {
			b := packets.Encode(m)
			if got, wantLen := len(b)-packets.HeaderSize, 8+1+len(want)+boolLen(m); got != wantLen {
				t.Errorf("%v with %d-byte reason: payload %d bytes, want %d", m.Type(), n, got, wantLen)
			}
			got, err := packets.Decode(b)
			if err != nil {
				t.Fatalf("%v with %d-byte reason: %v", m.Type(), n, err)
			}
			var reason string
			switch g := got.(type) {
			case packets.JoinReply:
				reason = g.Reason
			case packets.TaskNak:
				reason = g.Reason
			}
			if reason != want {
				t.Errorf("%v with %d-byte reason decoded a %d-byte reason, want %d bytes", m.Type(), n, len(reason), len(want))
			}
		}
	}
}

func boolLen(m packets.Message) int {
	if _, ok := m.(packets.JoinReply); ok {
		return 1
	}
	return 0
}

// TestSlaveJoinConfirmAddressEdges documents what the wire cannot carry: an
// invalid (zero) address encodes with length 0, which the decoder rejects,
// and an IPv6 zone is dropped.
func TestSlaveJoinConfirmAddressEdges(t *testing.T) {
	t.Parallel()
	t.Run("zero address is rejected, not mis-decoded", func(t *testing.T) {
		t.Parallel()
		_, err := packets.Decode(packets.Encode(packets.SlaveJoinConfirm{Token: 1}))
		if !errors.Is(err, packets.ErrMalformed) {
			t.Fatalf("Decode of a confirm with no address: err = %v, want ErrMalformed", err)
		}
	})
	t.Run("zone is not on the wire", func(t *testing.T) {
		t.Parallel()
		m := packets.SlaveJoinConfirm{Token: 1, IP: netip.MustParseAddr("fe80::1%eth0"), LoadPort: 1}
		got, err := packets.Decode(packets.Encode(m))
		if err != nil {
			t.Fatal(err)
		}
		want := m
		want.IP = m.IP.WithZone("")
		if got != want {
			t.Fatalf("got %#v, want %#v", got, want)
		}
	})
}

func TestTypeAndLinkStrings(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for typ := packets.TypeSlaveJoinRequest; typ <= packets.LastType; typ++ {
		s := typ.String()
		if strings.HasPrefix(s, "Type(") || seen[s] {
			t.Errorf("Type(%d).String() = %q", uint8(typ), s)
		}
		seen[s] = true
	}
	for _, tc := range []struct {
		s    string
		want string
	}{
		{packets.Type(0).String(), "Type(0)"},
		{packets.Type(packets.LastType + 1).String(), fmt.Sprintf("Type(%d)", packets.LastType+1)},
		{packets.LinkLoad.String(), "load"},
		{packets.LinkTask.String(), "task"},
		{packets.LinkResult.String(), "result"},
		{packets.LinkMonitor.String(), "monitor"},
		{packets.Link(0).String(), "Link(0)"},
		{packets.Link(5).String(), "Link(5)"},
	} {
		if tc.s != tc.want {
			t.Errorf("got %q, want %q", tc.s, tc.want)
		}
	}
	for _, tc := range corpus() {
		if tc.m.Type().String() != strings.SplitN(tc.name, "/", 2)[0] {
			t.Errorf("%s: Type() = %v", tc.name, tc.m.Type())
		}
	}
}

// malformedFrames lists hostile datagrams: each must be rejected with an
// error wrapping ErrMalformed, by Decode and by ReadFrame alike.
func malformedFrames() []struct {
	name string
	b    []byte
} {
	v := byte(packets.Version)
	ip4 := []byte{4, 10, 0, 0, 1}
	ports := cat(u16(1), u16(2), u16(3), u16(4))
	report := func(load, factor float64) []byte {
		return frame(v, packets.TypeLoadReport, cat(u32(1), f64(load), f64(factor), u64(1), u64(2), u32(3)))
	}
	return []struct {
		name string
		b    []byte
	}{
		{"wrong version 0", frame(0, packets.TypeTaskAck, u64(1))},
		{"wrong version 2", frame(2, packets.TypeTaskAck, u64(1))},
		{"wrong version 255", frame(255, packets.TypeSlaveJoinRequest, nil)},
		{"unknown type 0", frame(v, 0, nil)},
		{"unknown type 11", frame(v, 11, u64(1))},
		{"unknown type 255", frame(v, 255, nil)},
		{"length MaxPayload+1", cat(header(v, packets.TypeTaskResult, packets.MaxPayload+1), make([]byte, 64))},
		{"length 2^32-1", header(v, packets.TypeTaskResult, math.MaxUint32)},
		{"empty request with a payload byte", frame(v, packets.TypeSlaveJoinRequest, []byte{0})},
		{"TaskAck truncated", frame(v, packets.TypeTaskAck, u64(1)[:7])},
		{"TaskAck empty", frame(v, packets.TypeTaskAck, nil)},
		{"TaskAck trailing byte", frame(v, packets.TypeTaskAck, cat(u64(1), []byte{0}))},
		{"LoadRequest trailing bytes", frame(v, packets.TypeLoadRequest, cat(u32(1), u32(2)))},
		{"reply bool 2", frame(v, packets.TypeSlaveJoinReply, cat([]byte{2}, u64(1), []byte{0}))},
		{"reply bool 255", frame(v, packets.TypeSlaveJoinReply, cat([]byte{255}, u64(1), []byte{0}))},
		{"reply reason longer than rest", frame(v, packets.TypeSlaveJoinReply, cat([]byte{0}, u64(1), []byte{5, 'a', 'b'}))},
		{"reply reason length missing", frame(v, packets.TypeSlaveJoinReply, cat([]byte{1}, u64(1)))},
		{"result bool 2", frame(v, packets.TypeTaskResult, cat(u64(1), []byte{2}, u64(0), u32(0)))},
		{"load NaN", report(math.NaN(), 1)},
		{"factor NaN", report(1, math.NaN())},
		{"load +Inf", report(math.Inf(1), 1)},
		{"factor -Inf", report(1, math.Inf(-1))},
		{"load negative", report(-1, 1)},
		{"factor smallest negative", report(1, -math.SmallestNonzeroFloat64)},
		{"load NaN with sign and payload bits", frame(v, packets.TypeLoadReport, cat(u32(1), u64(0xfff8000000000001), f64(0), u64(1), u64(2), u32(3)))},
		{"confirm ip length 0", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{0}, ports))},
		{"confirm ip length 5", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{5, 10, 0, 0, 1, 2}, ports))},
		{"confirm ip length 15", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{15}, make([]byte, 15), ports))},
		{"confirm ip length 17", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{17}, make([]byte, 17), ports))},
		{"confirm ip length 255", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{255}, make([]byte, 255), ports))},
		{"confirm ip 16 claimed, 4 present", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), []byte{16, 10, 0, 0, 1}, ports))},
		{"confirm ports missing", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), ip4, u16(1)))},
		{"confirm trailing byte", frame(v, packets.TypeSlaveJoinConfirm, cat(u64(1), ip4, ports, []byte{0}))},
		{"hello link 0", frame(v, packets.TypeLinkHello, cat(u64(1), []byte{0}, u32(100)))},
		{"hello link 5", frame(v, packets.TypeLinkHello, cat(u64(1), []byte{5}, u32(100)))},
		{"monitor confirm ip length 3", frame(v, packets.TypeMonitorJoinConfirm, cat(u64(1), []byte{3, 1, 2, 3}, u16(1)))},
		{"monitor confirm port missing", frame(v, packets.TypeMonitorJoinConfirm, cat(u64(1), ip4))},
		{"monitor request with a payload byte", frame(v, packets.TypeMonitorJoinRequest, []byte{0})},
		{"slave list count beyond payload", frame(v, packets.TypeSlaveList, cat(u32(1), u16(65535), ip4, u16(1), u16(2)))},
		{"slave list entry cut", frame(v, packets.TypeSlaveList, cat(u32(1), u16(1), ip4, u16(1)))},
		{"slave list trailing byte", frame(v, packets.TypeSlaveList, cat(u32(1), u16(1), ip4, u16(1), u16(2), []byte{0}))},
		{"slave list bad ip length", frame(v, packets.TypeSlaveList, cat(u32(1), u16(1), []byte{7}, make([]byte, 11)))},
		{"slave list request short", frame(v, packets.TypeSlaveListRequest, u16(1))},
		{"hello link 255", frame(v, packets.TypeLinkHello, cat(u64(1), []byte{255}, u32(100)))},
		{"hello truncated after link", frame(v, packets.TypeLinkHello, cat(u64(1), []byte{1}))},
		{"result str32 longer than rest", frame(v, packets.TypeTaskResult, cat(u64(1), []byte{1}, u64(0), u32(10), []byte("short")))},
		{"result str32 length 2^32-1", frame(v, packets.TypeTaskResult, cat(u64(1), []byte{1}, u64(0), u32(math.MaxUint32), []byte("x")))},
		{"result str32 length MaxPayload+1", frame(v, packets.TypeTaskResult, cat(u64(1), []byte{1}, u64(0), u32(packets.MaxPayload+1)))},
		{"result str32 shorter than rest", frame(v, packets.TypeTaskResult, cat(u64(1), []byte{1}, u64(0), u32(1), []byte("ab")))},
		{"nak reason longer than rest", frame(v, packets.TypeTaskNak, cat(u64(1), []byte{255}, []byte("abc")))},
		{"task request truncated", frame(v, packets.TypeTaskRequest, cat(u64(1), []byte{1}, u32(0)))},
		{"unknown type after the last", frame(v, packets.LastType+1, u64(1))},
		{"workers report cut in its new fields", frame(v, packets.TypeLoadReportWorkers,
			cat(u32(1), f64(0), f64(0), u64(1), u64(2), u32(3), u16(2), u16(1)))},
		{"cancel truncated", frame(v, packets.TypeTaskCancel, u32(1))},
		{"cancelled trailing byte", frame(v, packets.TypeTaskCancelled, cat(u64(1), []byte{0}))},
		{"input request empty name", frame(v, packets.TypeTaskInputRequest, cat(u64(1), []byte{0}, u32(0)))},
		{"input request name with a slash", frame(v, packets.TypeTaskInputRequest, cat(u64(1), offerName("a/b"), u32(0)))},
		{"input request name upper case", frame(v, packets.TypeTaskInputRequest, cat(u64(1), offerName("Sha"), u32(0)))},
		{"input request name of 65 bytes", frame(v, packets.TypeTaskInputRequest, cat(u64(1), offerName(strings.Repeat("a", 65)), u32(0)))},
		{"input request input over MaxTaskData", frame(v, packets.TypeTaskInputRequest,
			cat(u64(1), offerName("sha"), u32(packets.MaxTaskData+1), make([]byte, packets.MaxTaskData+1)))},
		{"input request input longer than rest", frame(v, packets.TypeTaskInputRequest, cat(u64(1), offerName("sha"), u32(9), []byte("x")))},
		{"offer count over MaxOfferedTasks", frame(v, packets.TypeTaskOffer,
			cat(u16(packets.MaxOfferedTasks+1), distinctOffered(packets.MaxOfferedTasks+1)))},
		{"offer count beyond payload", frame(v, packets.TypeTaskOffer, cat(u16(3), offered("a", 0, 0, 0)))},
		{"offer name twice", frame(v, packets.TypeTaskOffer, cat(u16(2), offered("a", 0, 0, 0), offered("a", 0, 0, 0)))},
		{"offer unknown flag", frame(v, packets.TypeTaskOffer, cat(u16(1), offered("a", 4, 0, 0)))},
		{"offer max input over MaxTaskData", frame(v, packets.TypeTaskOffer, cat(u16(1), offered("a", 0, packets.MaxTaskData+1, 0)))},
		{"offer max output over MaxTaskData", frame(v, packets.TypeTaskOffer, cat(u16(1), offered("a", 0, 0, packets.MaxTaskData+1)))},
		{"offer bad name", frame(v, packets.TypeTaskOffer, cat(u16(1), offered("9a", 0, 0, 0)))},
		{"offer cut in its last task", frame(v, packets.TypeTaskOffer, cat(u16(1), offered("abc", 0, 0, 0)[:10]))},
	}
}

// distinctOffered is n encoded OfferedTasks with distinct names, so that
// nothing but their count can be refused.
func distinctOffered(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, offered(fmt.Sprintf("t%d", i), 0, 0, 0)...)
	}
	return b
}

// offerName is a str8 name.
func offerName(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// offered is one encoded OfferedTask.
func offered(name string, flags byte, maxIn, maxOut uint32) []byte {
	return cat(offerName(name), []byte{flags}, u64(1), u32(maxIn), u32(maxOut), u32(0), u16(0))
}

// TestOldLoadReportDecodes: a slave of the first protocol sends type 6; its
// report still decodes, with the newer fields zero ("not reported").
func TestOldLoadReportDecodes(t *testing.T) {
	t.Parallel()
	b := frame(packets.Version, packets.TypeLoadReport, cat(u32(7), f64(0.5), f64(0.25), u64(2), u64(10), u32(1)))
	m, err := packets.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := packets.LoadReport{Seq: 7, Load: 0.5, Factor: 0.25, Committed: 2, MaxLoad: 10, Tasks: 1}
	if m != want {
		t.Fatalf("Decode = %#v, want %#v", m, want)
	}
}

func TestValidTaskName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"sha", true}, {"a", true}, {"thumb-2_x", true}, {strings.Repeat("a", packets.MaxTaskName), true},
		{"", false}, {"9a", false}, {"_a", false}, {"-a", false}, {"Sha", false}, {"a b", false}, {"a/b", false},
		{"a.b", false}, {"é", false}, {strings.Repeat("a", packets.MaxTaskName+1), false}, {"a\x00", false},
	} {
		if got := packets.ValidTaskName(tc.s); got != tc.ok {
			t.Errorf("ValidTaskName(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range malformedFrames() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := packets.Decode(tc.b)
			if !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("Decode(%x) = %#v, %v; want an error wrapping ErrMalformed", tc.b, m, err)
			}
			if m != nil {
				t.Errorf("Decode returned a message with its error: %#v", m)
			}
		})
	}
}

// TestDecodeHeaderErrors covers datagrams too short for a header or whose
// length prefix disagrees with the datagram size.
func TestDecodeHeaderErrors(t *testing.T) {
	t.Parallel()
	v := byte(packets.Version)
	ack := packets.Encode(packets.TaskAck{ID: 1})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"one byte", []byte{v}},
		{"five bytes", header(v, packets.TypeTaskAck, 8)[:5]},
		{"header only, length 8", header(v, packets.TypeTaskAck, 8)},
		{"length says less than present", cat(header(v, packets.TypeTaskAck, 4), u64(1))},
		{"length says more than present", cat(header(v, packets.TypeTaskAck, 9), u64(1))},
		{"two frames in one datagram", cat(ack, ack)},
		{"frame cut by one byte", ack[:len(ack)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if m, err := packets.Decode(tc.b); !errors.Is(err, packets.ErrMalformed) {
				t.Fatalf("Decode(%x) = %#v, %v; want ErrMalformed", tc.b, m, err)
			}
		})
	}
	t.Run("ParseHeader short", func(t *testing.T) {
		t.Parallel()
		if _, _, err := packets.ParseHeader([]byte{v, 1}); !errors.Is(err, packets.ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ParseHeader at MaxPayload", func(t *testing.T) {
		t.Parallel()
		typ, n, err := packets.ParseHeader(header(v, packets.TypeTaskResult, packets.MaxPayload))
		if err != nil || typ != packets.TypeTaskResult || n != packets.MaxPayload {
			t.Fatalf("ParseHeader = %v, %d, %v", typ, n, err)
		}
	})
}

// TestDecodeEveryTruncationAndExtension cuts every valid payload at every
// length and extends it by one byte (fixing the length prefix each time):
// every message is self-delimiting, so each variant must be malformed.
func TestDecodeEveryTruncationAndExtension(t *testing.T) {
	t.Parallel()
	for _, tc := range smallCorpus(4096) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			full := packets.Encode(tc.m)[packets.HeaderSize:]
			for n := 0; n < len(full); n++ {
				b := frame(packets.Version, tc.m.Type(), full[:n])
				if m, err := packets.Decode(b); !errors.Is(err, packets.ErrMalformed) {
					t.Fatalf("payload cut to %d of %d bytes: Decode = %#v, %v; want ErrMalformed", n, len(full), m, err)
				}
			}
			for _, extra := range []byte{0, 1, 0xff} {
				b := frame(packets.Version, tc.m.Type(), cat(full, []byte{extra}))
				if m, err := packets.Decode(b); !errors.Is(err, packets.ErrMalformed) {
					t.Fatalf("payload with trailing byte %#x: Decode = %#v, %v; want ErrMalformed", extra, m, err)
				}
			}
		})
	}
}

func TestDecodePayloadUnknownType(t *testing.T) {
	t.Parallel()
	for _, typ := range []packets.Type{0, packets.LastType + 1, 128, 255} {
		if m, err := packets.DecodePayload(typ, nil); !errors.Is(err, packets.ErrMalformed) {
			t.Errorf("DecodePayload(%d) = %#v, %v; want ErrMalformed", uint8(typ), m, err)
		}
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	for _, tc := range []namedMessage{
		{"LoadReport", packets.LoadReport{Seq: 3, Load: 0.75, Factor: 0.25, Committed: 3, MaxLoad: 100, Tasks: 2}},
		{"TaskResult200KB", packets.TaskResult{ID: 1, OK: true, Body: bigBody}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := packets.Decode(packets.Encode(tc.m)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestInputDoesNotAlias: a decoded TaskInputRequest's input is a copy, as
// the frame reader reuses its buffer for the next frame.
func TestInputDoesNotAlias(t *testing.T) {
	t.Parallel()
	b := packets.Encode(packets.TaskInputRequest{ID: 1, Name: "sha", Input: []byte("input")})
	got, err := packets.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := packets.HeaderSize; i < len(b); i++ {
		b[i] = 'X'
	}
	if in := got.(packets.TaskInputRequest).Input; string(in) != "input" {
		t.Fatalf("decoded input changed with its frame: %q", in)
	}
}
