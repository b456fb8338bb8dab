package packets

import "encoding/binary"

// STUB until the lead lands "packets: cancel, workers, offers" on main: the
// offer messages of the wire brief (types 26 and 27), so the master's side
// builds and its tests speak the wire. Drop this file, and the two cases it
// adds to DecodePayload, when merging main.

const (
	TypeTaskOffer        Type = 26
	TypeTaskInputRequest Type = 27
)

// TaskOffer is the set of tasks a slave offers (slave→master, result link).
type TaskOffer struct{ Tasks []OfferedTask }

// OfferedTask is one task a slave offers.
type OfferedTask struct {
	Name          string
	Builtin       bool
	PerByte       bool
	Load          uint64
	MaxInput      uint32
	MaxOutput     uint32
	TimeoutMillis uint32
	Workers       uint16
}

// TaskInputRequest runs an offered task by name on input bytes.
type TaskInputRequest struct {
	ID    uint64
	Name  string
	Input []byte
}

const (
	MaxOfferedTasks = 64
	MaxTaskName     = 64
	MaxTaskData     = MaxPayload - 4096
)

// ValidTaskName reports whether s is [a-z][a-z0-9_-]*, 1..MaxTaskName bytes.
func ValidTaskName(s string) bool {
	if len(s) == 0 || len(s) > MaxTaskName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (TaskOffer) Type() Type        { return TypeTaskOffer }
func (TaskInputRequest) Type() Type { return TypeTaskInputRequest }

func (m TaskOffer) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Tasks)))
	for _, t := range m.Tasks {
		b = appendStr8(b, t.Name)
		var flags byte
		if t.Builtin {
			flags |= 1
		}
		if t.PerByte {
			flags |= 2
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

func (m TaskInputRequest) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendStr8(b, m.Name)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Input)))
	return append(b, m.Input...)
}

func (r *reader) taskName() string {
	s := r.str8()
	if r.err == nil && !ValidTaskName(s) {
		r.fail("task name %q", s)
	}
	return s
}

func (r *reader) taskOffer() TaskOffer {
	n := int(r.u16())
	if r.err == nil && n > MaxOfferedTasks {
		r.fail("%d offered tasks", n)
	}
	if r.err != nil || n == 0 {
		return TaskOffer{}
	}
	out := make([]OfferedTask, n)
	for i := range out {
		t := OfferedTask{Name: r.taskName()}
		flags := r.u8()
		t.Builtin, t.PerByte = flags&1 != 0, flags&2 != 0
		t.Load, t.MaxInput, t.MaxOutput, t.TimeoutMillis, t.Workers = r.u64(), r.u32(), r.u32(), r.u32(), r.u16()
		if r.err == nil && (t.MaxInput > MaxTaskData || t.MaxOutput > MaxTaskData) {
			r.fail("task limits %d/%d over %d", t.MaxInput, t.MaxOutput, MaxTaskData)
		}
		out[i] = t
	}
	return TaskOffer{Tasks: out}
}

func (r *reader) taskInputRequest() TaskInputRequest {
	m := TaskInputRequest{ID: r.u64(), Name: r.taskName()}
	n := r.u32()
	if r.err == nil && n > MaxTaskData {
		r.fail("task input of %d bytes", n)
	}
	if v := r.take(int(n)); v != nil {
		m.Input = append([]byte{}, v...)
	}
	return m
}
