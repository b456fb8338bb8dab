package packets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed packet")

// ErrBadMAC means a sealed frame was not sealed with our secret: forged,
// corrupted, or from a node with another secret.
var ErrBadMAC = errors.New("sealed packet fails authentication (wrong or missing secret?)")

// Append appends m, framed, to b and returns the extended slice.
func Append(b []byte, m Message) []byte {
	start := len(b)
	b = append(b, Version, byte(m.Type()), 0, 0, 0, 0)
	b = m.appendPayload(b)
	binary.BigEndian.PutUint32(b[start+2:], uint32(len(b)-start-HeaderSize))
	return b
}

// Encode returns m as one frame.
func Encode(m Message) []byte {
	return Append(make([]byte, 0, 64), m)
}

// ParseHeader checks a frame header and returns its type and payload length.
func ParseHeader(h []byte) (Type, int, error) {
	if len(h) < HeaderSize {
		return 0, 0, fmt.Errorf("%w: %d-byte header", ErrMalformed, len(h))
	}
	if h[0] != Version {
		return 0, 0, fmt.Errorf("%w: protocol version %d, want %d", ErrMalformed, h[0], Version)
	}
	n := binary.BigEndian.Uint32(h[2:HeaderSize])
	if n > MaxPayload {
		return 0, 0, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrMalformed, n, MaxPayload)
	}
	return Type(h[1]), int(n), nil
}

// Decode decodes exactly one frame (a whole UDP datagram).
func Decode(b []byte) (Message, error) {
	t, n, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b)-HeaderSize != n {
		return nil, fmt.Errorf("%w: length says %d bytes, frame has %d", ErrMalformed, n, len(b)-HeaderSize)
	}
	return DecodePayload(t, b[HeaderSize:])
}

// DecodePayload decodes the payload of a message of type t. The payload must
// be consumed exactly; the result never aliases p.
func DecodePayload(t Type, p []byte) (Message, error) {
	r := reader{b: p}
	var m Message
	switch t {
	case TypeSlaveJoinRequest, TypeMonitorJoinRequest:
		m = JoinRequest{Monitor: t == TypeMonitorJoinRequest}
	case TypeSlaveJoinReply, TypeMonitorJoinReply:
		m = JoinReply{Monitor: t == TypeMonitorJoinReply, Accepted: r.bool(), Token: r.u64(), Reason: r.str8()}
	case TypeSlaveJoinRequestBound, TypeMonitorJoinRequestBound:
		m = JoinRequest{Monitor: t == TypeMonitorJoinRequestBound, From: r.addrPort()}
	case TypeSlaveJoinReplyBound, TypeMonitorJoinReplyBound:
		m = JoinReply{Monitor: t == TypeMonitorJoinReplyBound, Accepted: r.bool(), Token: r.u64(), Reason: r.str8(),
			Request: r.u64(), To: r.addrPort(), From: r.addrPort()}
	case TypeSlaveJoinConfirm:
		m = SlaveJoinConfirm{Token: r.u64(), IP: r.addr(), LoadPort: r.u16(), TaskPort: r.u16(), ResultPort: r.u16(), MetricsPort: r.u16()}
	case TypeMonitorJoinConfirm:
		m = MonitorJoinConfirm{Token: r.u64(), IP: r.addr(), Port: r.u16()}
	case TypeSlaveListRequest:
		m = SlaveListRequest{Seq: r.u32()}
	case TypeSlaveList:
		m = SlaveList{Seq: r.u32(), Slaves: r.slaveEntries()}
	case TypeLinkHello:
		m = LinkHello{Token: r.u64(), Link: r.link(), PollIntervalMillis: r.u32()}
	case TypeLoadRequest:
		m = LoadRequest{Seq: r.u32()}
	case TypeLoadReport:
		m = LoadReport{Seq: r.u32(), Load: r.f64(), Factor: r.f64(), Committed: r.u64(), MaxLoad: r.u64(), Tasks: r.u32()}
	case TypeLoadReportWorkers:
		m = LoadReport{Seq: r.u32(), Load: r.f64(), Factor: r.f64(), Committed: r.u64(), MaxLoad: r.u64(), Tasks: r.u32(),
			Workers: r.u16(), Busy: r.u16(), Queued: r.u32(), Completed: r.u64(), BusyMicros: r.u64()}
	case TypeTaskRequest:
		m = TaskRequest{ID: r.u64(), Task: r.u8(), N: r.u64()}
	case TypeTaskInputRequest:
		m = TaskInputRequest{ID: r.u64(), Name: r.taskName(), Input: r.taskData()}
	case TypeTaskCancel:
		m = TaskCancel{ID: r.u64()}
	case TypeTaskCancelled:
		m = TaskCancelled{ID: r.u64()}
	case TypeTaskOffer:
		m = TaskOffer{Tasks: r.offeredTasks()}
	case TypeTaskAck:
		m = TaskAck{ID: r.u64()}
	case TypeTaskNak:
		m = TaskNak{ID: r.u64(), Reason: r.str8()}
	case TypeTaskResult:
		m = TaskResult{ID: r.u64(), OK: r.bool(), ComputeMicros: r.u64(), Body: r.str32()}
	case TypeLeaving:
		m = Leaving{}
	case TypeLeaveAck:
		m = LeaveAck{}
	case TypeSealed:
		return nil, fmt.Errorf("%w: a sealed packet, but no secret is set (-secret or LB_SECRET)", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, uint8(t))
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", t, r.err)
	}
	return m, nil
}

func (m JoinRequest) appendPayload(b []byte) []byte {
	if m.From.IsValid() {
		b = appendAddrPort(b, m.From)
	}
	return b
}

func (Leaving) appendPayload(b []byte) []byte { return b }

func (LeaveAck) appendPayload(b []byte) []byte { return b }

func (m JoinReply) appendPayload(b []byte) []byte {
	b = appendBool(b, m.Accepted)
	b = binary.BigEndian.AppendUint64(b, m.Token)
	b = appendStr8(b, m.Reason)
	if m.To.IsValid() {
		b = binary.BigEndian.AppendUint64(b, m.Request)
		b = appendAddrPort(b, m.To)
		b = appendAddrPort(b, m.From)
	}
	return b
}

func (m SlaveJoinConfirm) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Token)
	b = appendAddr(b, m.IP)
	b = binary.BigEndian.AppendUint16(b, m.LoadPort)
	b = binary.BigEndian.AppendUint16(b, m.TaskPort)
	b = binary.BigEndian.AppendUint16(b, m.ResultPort)
	return binary.BigEndian.AppendUint16(b, m.MetricsPort)
}

func (m MonitorJoinConfirm) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Token)
	b = appendAddr(b, m.IP)
	return binary.BigEndian.AppendUint16(b, m.Port)
}

func (m SlaveListRequest) appendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, m.Seq)
}

// appendPayload writes at most MaxSlaveList entries.
func (m SlaveList) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.Seq)
	slaves := m.Slaves[:min(len(m.Slaves), MaxSlaveList)]
	b = binary.BigEndian.AppendUint16(b, uint16(len(slaves)))
	for _, s := range slaves {
		b = appendAddr(b, s.IP)
		b = binary.BigEndian.AppendUint16(b, s.ID)
		b = binary.BigEndian.AppendUint16(b, s.MetricsPort)
	}
	return b
}

func appendAddr(b []byte, a netip.Addr) []byte {
	ip := a.AsSlice()
	b = append(b, byte(len(ip)))
	return append(b, ip...)
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	b = appendAddr(b, ap.Addr())
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

func (m LinkHello) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Token)
	b = append(b, byte(m.Link))
	return binary.BigEndian.AppendUint32(b, m.PollIntervalMillis)
}

func (m LoadRequest) appendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, m.Seq)
}

func (m LoadReport) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(m.Load))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(m.Factor))
	b = binary.BigEndian.AppendUint64(b, m.Committed)
	b = binary.BigEndian.AppendUint64(b, m.MaxLoad)
	b = binary.BigEndian.AppendUint32(b, m.Tasks)
	b = binary.BigEndian.AppendUint16(b, m.Workers)
	b = binary.BigEndian.AppendUint16(b, m.Busy)
	b = binary.BigEndian.AppendUint32(b, m.Queued)
	b = binary.BigEndian.AppendUint64(b, m.Completed)
	return binary.BigEndian.AppendUint64(b, m.BusyMicros)
}

func (m TaskInputRequest) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendStr8(b, m.Name)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Input)))
	return append(b, m.Input...)
}

func (m TaskCancel) appendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint64(b, m.ID)
}

func (m TaskCancelled) appendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint64(b, m.ID)
}

// Offer flags.
const (
	offerBuiltin = 1 << iota
	offerPerByte
	offerFlags = offerBuiltin | offerPerByte
)

func (m TaskOffer) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Tasks)))
	for _, t := range m.Tasks {
		b = appendStr8(b, t.Name)
		var flags byte
		if t.Builtin {
			flags |= offerBuiltin
		}
		if t.PerByte {
			flags |= offerPerByte
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint64(b, t.Load)
		b = binary.BigEndian.AppendUint32(b, t.MaxInput)
		b = binary.BigEndian.AppendUint32(b, t.MaxOutput)
		b = binary.BigEndian.AppendUint32(b, t.TimeoutMillis)
		b = binary.BigEndian.AppendUint16(b, t.Workers)
	}
	return b
}

func (m TaskRequest) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = append(b, m.Task)
	return binary.BigEndian.AppendUint64(b, m.N)
}

func (m TaskAck) appendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint64(b, m.ID)
}

func (m TaskNak) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	return appendStr8(b, m.Reason)
}

func (m TaskResult) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendBool(b, m.OK)
	b = binary.BigEndian.AppendUint64(b, m.ComputeMicros)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Body)))
	return append(b, m.Body...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendStr8 writes s with a u8 length, cutting it at maxReason bytes.
func appendStr8(b []byte, s string) []byte {
	if len(s) > maxReason {
		s = s[:maxReason]
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// reader decodes fields from a payload; the first error sticks and every
// later read returns a zero value, so decoders read straight through.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) bool() bool {
	switch v := r.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("boolean byte %d", v)
		return false
	}
}

// f64 accepts only finite, non-negative values: loads and factors.
func (r *reader) f64() float64 {
	v := math.Float64frombits(r.u64())
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		r.fail("load value %v", v)
		return 0
	}
	return v
}

func (r *reader) str8() string {
	return string(r.take(int(r.u8())))
}

func (r *reader) str32() string {
	n := r.u32()
	if n > MaxPayload {
		r.fail("string of %d bytes", n)
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) addr() netip.Addr {
	n := r.u8()
	if r.err == nil && n != 4 && n != 16 {
		r.fail("address of %d bytes", n)
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(r.take(int(n)))
	return a
}

func (r *reader) addrPort() netip.AddrPort {
	a := r.addr()
	return netip.AddrPortFrom(a, r.u16())
}

// slaveEntries reads a u16 count of entries. Each takes at least 9 bytes,
// so a count the payload cannot hold is refused before allocating.
func (r *reader) slaveEntries() []SlaveEntry {
	n := int(r.u16())
	if r.err != nil || n == 0 {
		return nil
	}
	if n*9 > len(r.b) {
		r.fail("%d slave entries in %d bytes", n, len(r.b))
		return nil
	}
	out := make([]SlaveEntry, n)
	for i := range out {
		out[i] = SlaveEntry{IP: r.addr(), ID: r.u16(), MetricsPort: r.u16()}
	}
	return out
}

func (r *reader) link() Link {
	l := Link(r.u8())
	if r.err == nil && (l < LinkLoad || l > LinkMonitor) {
		r.fail("unknown link %d", l)
	}
	return l
}

// taskName reads a str8 that must be a ValidTaskName.
func (r *reader) taskName() string {
	s := r.str8()
	if r.err == nil && !ValidTaskName(s) {
		r.fail("task name %q", s)
	}
	return s
}

// taskData reads a u32-length byte string of at most MaxTaskData, copied.
func (r *reader) taskData() []byte {
	n := r.u32()
	if r.err == nil && n > MaxTaskData {
		r.fail("task data of %d bytes exceeds %d", n, MaxTaskData)
		return nil
	}
	if v := r.take(int(n)); len(v) > 0 {
		return append([]byte(nil), v...)
	}
	return nil
}

// offerSize is the smallest encoding of an OfferedTask: a one-byte name.
const offerSize = 2 + 1 + 8 + 4 + 4 + 4 + 2

// offeredTasks reads a u16 count of OfferedTask, refusing a count over
// MaxOfferedTasks or more than the payload can hold before allocating, a
// name given twice, and limits over MaxTaskData.
func (r *reader) offeredTasks() []OfferedTask {
	n := int(r.u16())
	if r.err != nil || n == 0 {
		return nil
	}
	if n > MaxOfferedTasks || n*offerSize > len(r.b) {
		r.fail("%d offered tasks in %d bytes (at most %d)", n, len(r.b), MaxOfferedTasks)
		return nil
	}
	out := make([]OfferedTask, n)
	for i := range out {
		t := &out[i]
		t.Name = r.taskName()
		flags := r.u8()
		t.Builtin, t.PerByte = flags&offerBuiltin != 0, flags&offerPerByte != 0
		t.Load, t.MaxInput, t.MaxOutput, t.TimeoutMillis, t.Workers = r.u64(), r.u32(), r.u32(), r.u32(), r.u16()
		switch {
		case r.err != nil:
			return nil
		case flags&^offerFlags != 0:
			r.fail("offer flags %#x", flags)
		case t.MaxInput > MaxTaskData || t.MaxOutput > MaxTaskData:
			r.fail("task %s limits %d/%d exceed %d", t.Name, t.MaxInput, t.MaxOutput, MaxTaskData)
		case slices.ContainsFunc(out[:i], func(o OfferedTask) bool { return o.Name == t.Name }):
			r.fail("task %s offered twice", t.Name)
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}
