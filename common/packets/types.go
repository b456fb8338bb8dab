package packets

import (
	"fmt"
	"net/netip"
)

// Version is the protocol version carried in every frame.
const Version = 1

// HeaderSize is the size of a frame header: version, type, length.
const HeaderSize = 6

// MaxPayload caps a frame's payload. The largest legitimate message is a
// Fibonacci result (about 209 KB for the largest n the master accepts).
const MaxPayload = 1 << 20

// maxReason caps the reason strings of NAKs (u8 length on the wire).
const maxReason = 255

// Type identifies a message. Values are part of the protocol: only append.
type Type uint8

const (
	TypeSlaveJoinRequest Type = 1
	TypeSlaveJoinReply   Type = 2
	TypeSlaveJoinConfirm Type = 3
	TypeLinkHello        Type = 4
	TypeLoadRequest      Type = 5
	TypeLoadReport       Type = 6
	TypeTaskRequest      Type = 7
	TypeTaskAck          Type = 8
	TypeTaskNak          Type = 9
	TypeTaskResult       Type = 10
	// 11-15: the monitor's handshake and its one link.
	TypeMonitorJoinRequest Type = 11
	TypeMonitorJoinReply   Type = 12
	TypeMonitorJoinConfirm Type = 13
	TypeSlaveListRequest   Type = 14
	TypeSlaveList          Type = 15
	// 16: a handshake packet authenticated with the shared secret (seal.go).
	TypeSealed Type = 16
	// 17-18: a slave draining before it exits, and the master's answer.
	TypeLeaving  Type = 17
	TypeLeaveAck Type = 18
	// 19-22: the handshake bound to its endpoints, sent sealed (with a
	// secret): a request claims its sender's address, a reply names the
	// request it answers and both endpoints.
	TypeSlaveJoinRequestBound   Type = 19
	TypeSlaveJoinReplyBound     Type = 20
	TypeMonitorJoinRequestBound Type = 21
	TypeMonitorJoinReplyBound   Type = 22
	// 23-27: cancelling a task, the slave's workers in its load report,
	// the tasks a slave offers, and a task run by name on input bytes.
	TypeTaskCancel        Type = 23
	TypeTaskCancelled     Type = 24
	TypeLoadReportWorkers Type = 25
	TypeTaskOffer         Type = 26
	TypeTaskInputRequest  Type = 27
)

// LastType is the highest type value in use.
const LastType = TypeTaskInputRequest

func (t Type) String() string {
	switch t {
	case TypeSlaveJoinRequest:
		return "SlaveJoinRequest"
	case TypeSlaveJoinReply:
		return "SlaveJoinReply"
	case TypeSlaveJoinConfirm:
		return "SlaveJoinConfirm"
	case TypeLinkHello:
		return "LinkHello"
	case TypeLoadRequest:
		return "LoadRequest"
	case TypeLoadReport:
		return "LoadReport"
	case TypeTaskRequest:
		return "TaskRequest"
	case TypeTaskAck:
		return "TaskAck"
	case TypeTaskNak:
		return "TaskNak"
	case TypeTaskResult:
		return "TaskResult"
	case TypeMonitorJoinRequest:
		return "MonitorJoinRequest"
	case TypeMonitorJoinReply:
		return "MonitorJoinReply"
	case TypeMonitorJoinConfirm:
		return "MonitorJoinConfirm"
	case TypeSlaveListRequest:
		return "SlaveListRequest"
	case TypeSlaveList:
		return "SlaveList"
	case TypeSealed:
		return "Sealed"
	case TypeLeaving:
		return "Leaving"
	case TypeLeaveAck:
		return "LeaveAck"
	case TypeSlaveJoinRequestBound:
		return "SlaveJoinRequestBound"
	case TypeSlaveJoinReplyBound:
		return "SlaveJoinReplyBound"
	case TypeMonitorJoinRequestBound:
		return "MonitorJoinRequestBound"
	case TypeMonitorJoinReplyBound:
		return "MonitorJoinReplyBound"
	case TypeTaskCancel:
		return "TaskCancel"
	case TypeTaskCancelled:
		return "TaskCancelled"
	case TypeLoadReportWorkers:
		return "LoadReportWorkers"
	case TypeTaskOffer:
		return "TaskOffer"
	case TypeTaskInputRequest:
		return "TaskInputRequest"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Link names one of the three TCP links between master and slave.
type Link uint8

const (
	LinkLoad    Link = 1 // master polls load, slave reports
	LinkTask    Link = 2 // master sends task requests
	LinkResult  Link = 3 // slave sends ACK/NAK and results
	LinkMonitor Link = 4 // monitor asks for the slave list, master answers
)

func (l Link) String() string {
	switch l {
	case LinkLoad:
		return "load"
	case LinkTask:
		return "task"
	case LinkResult:
		return "result"
	case LinkMonitor:
		return "monitor"
	}
	return fmt.Sprintf("Link(%d)", uint8(l))
}

// Message is any protocol message.
type Message interface {
	Type() Type
	appendPayload(b []byte) []byte
}

// JoinRequest is broadcast by a slave (or monitor) looking for a master.
// Its UDP source port is the sender's ID. Slaves and monitors use distinct
// types on the wire, so the master tells them apart by type.
type JoinRequest struct {
	Monitor bool
	// From, when valid, is the address the sender claims as its own (its
	// discovery socket); the master refuses a request that arrives from
	// elsewhere. Set, it makes the request a ...JoinRequestBound.
	From netip.AddrPort
}

// JoinReply is the master's ACK (Accepted, with a token) or NAK (with a
// reason) to a join request, typed like the request it answers.
type JoinReply struct {
	Monitor  bool
	Accepted bool
	Token    uint64
	Reason   string
	// Bound replies (To valid: a ...JoinReplyBound) name what they answer:
	// the sealed nonce of the request, the requester's address as the
	// master saw it, and the address the master answers from. A node
	// accepts only a reply to its latest request, naming its own address,
	// arriving from From.
	Request uint64
	To      netip.AddrPort
	From    netip.AddrPort
}

// SlaveJoinConfirm is the slave's answer to an ACK: where to dial its links,
// and where its metrics are served.
type SlaveJoinConfirm struct {
	Token       uint64
	IP          netip.Addr
	LoadPort    uint16
	TaskPort    uint16
	ResultPort  uint16
	MetricsPort uint16
}

// MonitorJoinConfirm is the monitor's answer to an ACK: where to dial its
// link.
type MonitorJoinConfirm struct {
	Token uint64
	IP    netip.Addr
	Port  uint16
}

// SlaveListRequest asks the master for the slaves in its pool.
type SlaveListRequest struct {
	Seq uint32
}

// SlaveList answers a SlaveListRequest, in pool order.
type SlaveList struct {
	Seq    uint32
	Slaves []SlaveEntry
}

// SlaveEntry is one slave in a SlaveList.
type SlaveEntry struct {
	IP          netip.Addr
	ID          uint16
	MetricsPort uint16
}

// Leaving tells the master, on the result link, that the slave is draining:
// it takes no new task, finishes those it holds, then closes its links.
type Leaving struct{}

// LeaveAck answers Leaving on the task link: the master will send no more
// tasks, so every task request sent before it has reached the slave, and
// the slave may close its links once its tasks are done.
type LeaveAck struct{}

// MaxSlaveList caps the entries of a SlaveList (u16 count on the wire).
const MaxSlaveList = 1<<16 - 1

// LinkHello opens every TCP link the master dials.
type LinkHello struct {
	Token uint64
	Link  Link
	// PollIntervalMillis tells the slave how often to expect load polls, so it
	// can tell a silent master from a slow one.
	PollIntervalMillis uint32
}

// LoadRequest asks a slave for its load.
type LoadRequest struct {
	Seq uint32
}

// LoadReport answers a LoadRequest.
type LoadReport struct {
	Seq uint32
	// Load is the slave's load metric: Committed × Factor.
	Load float64
	// Factor is the load metric per unit of committed load (the CPU
	// fraction in use), which lets the master keep its view fresh between
	// polls by applying it to the load it has assigned since.
	Factor    float64
	Committed uint64
	MaxLoad   uint64
	Tasks     uint32
	// The fields below travel only in a LoadReportWorkers (type 25, what
	// this code sends); decoded from a type-6 report they are zero, which
	// means "not reported".

	// Workers is the number of worker slots, 0 for no limit (every admitted
	// task computes at once); Busy how many compute now (the cheap lane's
	// tasks not counted); Queued how many admitted tasks wait for a worker.
	Workers uint16
	Busy    uint16
	Queued  uint32
	// Completed counts the tasks the slave finished since it started, any
	// outcome; BusyMicros the worker time they took, summed over workers.
	// The master derives a completion rate and a utilisation from two
	// reports.
	Completed  uint64
	BusyMicros uint64
}

// TaskRequest asks a slave to run task Task on input N.
type TaskRequest struct {
	ID   uint64
	Task uint8
	N    uint64
}

// TaskAck tells the master the slave took task ID.
type TaskAck struct {
	ID uint64
}

// TaskNak tells the master the slave refused task ID.
type TaskNak struct {
	ID     uint64
	Reason string
}

// TaskResult carries the outcome of task ID: the result when OK, else an
// error message, and how long the slave computed (waiting for a worker
// excluded).
type TaskResult struct {
	ID            uint64
	OK            bool
	ComputeMicros uint64
	Body          string
}

// TaskCancel tells the slave to stop task ID, or to drop it if it has not
// started. A cancel for a task the slave no longer holds is ignored.
type TaskCancel struct {
	ID uint64
}

// TaskCancelled tells the master that task ID was stopped or dropped on its
// cancel: its load and worker are free. It is the task's last message: no
// result follows. A task whose result went out first gets no TaskCancelled.
type TaskCancelled struct {
	ID uint64
}

// TaskOffer lists the tasks a slave runs. A slave sends it first on its
// result link, before any result, and again whenever the list changes; one
// that sends none offers the built-ins fibonacci and primes.
type TaskOffer struct {
	Tasks []OfferedTask
}

// OfferedTask is one task of a TaskOffer.
type OfferedTask struct {
	Name string // ValidTaskName
	// Builtin marks a task of common/tasks: the master knows its input
	// limits and load, and the fields below are zero.
	Builtin bool
	// Load is the task's load estimate, per input byte when PerByte, else
	// per task.
	PerByte bool
	Load    uint64
	// MaxInput and MaxOutput cap the task's input and result, in bytes, at
	// most MaxTaskData.
	MaxInput, MaxOutput uint32
	// TimeoutMillis is the slave's time limit for one run, 0 for none
	// beyond the master's own.
	TimeoutMillis uint32
	// Workers is how many of it may run at once, 0 for the slave's shared
	// workers.
	Workers uint16
}

// TaskInputRequest asks a slave to run its offered task Name on Input. It is
// answered as a TaskRequest is: TaskAck or TaskNak, then TaskResult (whose
// Body may be binary) or TaskCancelled.
type TaskInputRequest struct {
	ID    uint64
	Name  string
	Input []byte
}

const (
	// MaxOfferedTasks caps the tasks of one TaskOffer.
	MaxOfferedTasks = 64
	// MaxTaskName caps a task's name.
	MaxTaskName = 64
	// MaxTaskData caps a task's input and a result's body, leaving room in
	// a frame for the fields around them.
	MaxTaskData = MaxPayload - 4096
)

// ValidTaskName reports whether s may name a task: 1 to MaxTaskName bytes of
// [a-z0-9_-], starting with a letter, so that it is a safe URL path, metric
// label and log field.
func ValidTaskName(s string) bool {
	if len(s) == 0 || len(s) > MaxTaskName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func (m JoinRequest) Type() Type {
	switch {
	case m.From.IsValid() && m.Monitor:
		return TypeMonitorJoinRequestBound
	case m.From.IsValid():
		return TypeSlaveJoinRequestBound
	case m.Monitor:
		return TypeMonitorJoinRequest
	}
	return TypeSlaveJoinRequest
}

func (m JoinReply) Type() Type {
	switch {
	case m.To.IsValid() && m.Monitor:
		return TypeMonitorJoinReplyBound
	case m.To.IsValid():
		return TypeSlaveJoinReplyBound
	case m.Monitor:
		return TypeMonitorJoinReply
	}
	return TypeSlaveJoinReply
}

func (SlaveJoinConfirm) Type() Type   { return TypeSlaveJoinConfirm }
func (MonitorJoinConfirm) Type() Type { return TypeMonitorJoinConfirm }
func (SlaveListRequest) Type() Type   { return TypeSlaveListRequest }
func (SlaveList) Type() Type          { return TypeSlaveList }
func (Leaving) Type() Type            { return TypeLeaving }
func (LeaveAck) Type() Type           { return TypeLeaveAck }
func (LinkHello) Type() Type          { return TypeLinkHello }
func (LoadRequest) Type() Type        { return TypeLoadRequest }
func (LoadReport) Type() Type         { return TypeLoadReportWorkers }
func (TaskRequest) Type() Type        { return TypeTaskRequest }
func (TaskAck) Type() Type            { return TypeTaskAck }
func (TaskNak) Type() Type            { return TypeTaskNak }
func (TaskResult) Type() Type         { return TypeTaskResult }
func (TaskCancel) Type() Type         { return TypeTaskCancel }
func (TaskCancelled) Type() Type      { return TypeTaskCancelled }
func (TaskOffer) Type() Type          { return TypeTaskOffer }
func (TaskInputRequest) Type() Type   { return TypeTaskInputRequest }
