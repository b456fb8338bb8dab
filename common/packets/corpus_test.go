package packets_test

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/lbproject/loadbalancer/common/packets"
)

// namedMessage is one entry of the shared test corpus.
type namedMessage struct {
	name string
	m    packets.Message
}

// bigBody is a TaskResult body near 200 KB: the size of a large Fibonacci
// result, the largest legitimate message.
var bigBody = strings.Repeat("0123456789", 20_000) + "42"

// reason255 is the longest reason a str8 can carry.
var reason255 = strings.Repeat("r", 255)

// corpus returns every message type with edge values. Every entry must
// survive Encode → Decode unchanged.
func corpus() []namedMessage {
	return []namedMessage{
		{"SlaveJoinRequest", packets.JoinRequest{}},
		{"MonitorJoinRequest", packets.JoinRequest{Monitor: true}},
		{"MonitorJoinReply/ack", packets.JoinReply{Monitor: true, Accepted: true, Token: 99}},
		{"MonitorJoinReply/nak", packets.JoinReply{Monitor: true, Reason: "a monitor is already connected"}},
		{"MonitorJoinConfirm/ipv4", packets.MonitorJoinConfirm{Token: 3, IP: netip.MustParseAddr("10.0.0.9"), Port: 41000}},
		{"MonitorJoinConfirm/ipv6 max", packets.MonitorJoinConfirm{Token: math.MaxUint64, IP: netip.IPv6Loopback(), Port: math.MaxUint16}},
		{"Leaving", packets.Leaving{}},
		{"LeaveAck", packets.LeaveAck{}},
		{"SlaveListRequest/max", packets.SlaveListRequest{Seq: math.MaxUint32}},
		{"SlaveList/empty", packets.SlaveList{Seq: 1}},
		{"SlaveList/three", packets.SlaveList{Seq: 2, Slaves: []packets.SlaveEntry{
			{IP: netip.MustParseAddr("10.0.0.2"), ID: 40711, MetricsPort: 39001},
			{IP: netip.MustParseAddr("10.0.0.2"), ID: 40712},
			{IP: netip.IPv6Loopback(), ID: math.MaxUint16, MetricsPort: math.MaxUint16},
		}}},
		{"SlaveList/1000 slaves", packets.SlaveList{Seq: 3, Slaves: manySlaves(1000)}},

		{"SlaveJoinRequestBound", packets.JoinRequest{From: netip.MustParseAddrPort("10.0.0.2:40711")}},
		{"MonitorJoinRequestBound/ipv6", packets.JoinRequest{Monitor: true, From: netip.MustParseAddrPort("[::1]:65535")}},
		{"SlaveJoinReplyBound/ack", packets.JoinReply{Accepted: true, Token: 7, Request: math.MaxUint64,
			To: netip.MustParseAddrPort("10.0.0.2:40711"), From: netip.MustParseAddrPort("10.0.0.1:3000")}},
		{"MonitorJoinReplyBound/nak", packets.JoinReply{Monitor: true, Reason: "a monitor is already connected", Request: 1,
			To: netip.MustParseAddrPort("10.0.0.3:1"), From: netip.MustParseAddrPort("[::ffff:10.0.0.1]:3000")}},
		{"SlaveJoinReply/zero", packets.JoinReply{}},
		{"SlaveJoinReply/ack max token", packets.JoinReply{Accepted: true, Token: math.MaxUint64}},
		{"SlaveJoinReply/nak 255-byte reason", packets.JoinReply{Reason: reason255}},
		{"SlaveJoinReply/nak utf8 and nul", packets.JoinReply{Token: 1, Reason: "trop chargé\x00 ▶ \"x\""}},

		{"SlaveJoinConfirm/ipv4 zero ports", packets.SlaveJoinConfirm{IP: netip.MustParseAddr("127.0.0.1")}},
		{"SlaveJoinConfirm/ipv4 unspecified", packets.SlaveJoinConfirm{IP: netip.IPv4Unspecified()}},
		{"SlaveJoinConfirm/ipv4 max", packets.SlaveJoinConfirm{
			Token: math.MaxUint64, IP: netip.MustParseAddr("255.255.255.255"),
			LoadPort: math.MaxUint16, TaskPort: math.MaxUint16, ResultPort: math.MaxUint16, MetricsPort: math.MaxUint16,
		}},
		{"SlaveJoinConfirm/ipv6 loopback", packets.SlaveJoinConfirm{Token: 7, IP: netip.IPv6Loopback(), LoadPort: 1, TaskPort: 2, ResultPort: 3}},
		{"SlaveJoinConfirm/ipv6 unspecified", packets.SlaveJoinConfirm{IP: netip.IPv6Unspecified()}},
		{"SlaveJoinConfirm/ipv6 full", packets.SlaveJoinConfirm{
			Token: 0x0123456789abcdef, IP: netip.MustParseAddr("2001:db8:ffff:1:2:3:4:5"),
			LoadPort: 40000, TaskPort: 40001, ResultPort: 40002,
		}},
		{"SlaveJoinConfirm/ipv4-mapped ipv6 stays 16 bytes", packets.SlaveJoinConfirm{IP: netip.MustParseAddr("::ffff:10.0.0.1")}},

		{"LinkHello/zero token load", packets.LinkHello{Link: packets.LinkLoad}},
		{"LinkHello/task", packets.LinkHello{Token: 42, Link: packets.LinkTask, PollIntervalMillis: 250}},
		{"LinkHello/result max", packets.LinkHello{Token: math.MaxUint64, Link: packets.LinkResult, PollIntervalMillis: math.MaxUint32}},
		{"LinkHello/monitor", packets.LinkHello{Token: 5, Link: packets.LinkMonitor, PollIntervalMillis: 1000}},

		{"LoadRequest/zero", packets.LoadRequest{}},
		{"LoadRequest/max", packets.LoadRequest{Seq: math.MaxUint32}},

		{"LoadReportWorkers/zero", packets.LoadReport{}},
		{"LoadReportWorkers/typical", packets.LoadReport{Seq: 3, Load: 0.75, Factor: 0.25, Committed: 3, MaxLoad: 100, Tasks: 2,
			Workers: 2, Busy: 1, Queued: 1, Completed: 40, BusyMicros: 1_500_000}},
		{"LoadReportWorkers/max", packets.LoadReport{
			Seq: math.MaxUint32, Load: math.MaxFloat64, Factor: math.MaxFloat64,
			Committed: math.MaxUint64, MaxLoad: math.MaxUint64, Tasks: math.MaxUint32,
			Workers: math.MaxUint16, Busy: math.MaxUint16, Queued: math.MaxUint32, Completed: math.MaxUint64, BusyMicros: math.MaxUint64,
		}},
		{"LoadReportWorkers/smallest subnormal", packets.LoadReport{Load: math.SmallestNonzeroFloat64, Factor: math.SmallestNonzeroFloat64}},
		{"LoadReportWorkers/negative zero", packets.LoadReport{Load: math.Copysign(0, -1), Factor: math.Copysign(0, -1)}},

		{"TaskRequest/zero", packets.TaskRequest{}},
		{"TaskRequest/max", packets.TaskRequest{ID: math.MaxUint64, Task: math.MaxUint8, N: math.MaxUint64}},

		{"TaskAck/zero", packets.TaskAck{}},
		{"TaskAck/max", packets.TaskAck{ID: math.MaxUint64}},

		{"TaskNak/zero", packets.TaskNak{}},
		{"TaskNak/255-byte reason", packets.TaskNak{ID: math.MaxUint64, Reason: reason255}},

		{"TaskResult/zero", packets.TaskResult{}},
		{"TaskResult/ok small", packets.TaskResult{ID: 9, OK: true, Body: "12586269025"}},
		{"TaskResult/error text", packets.TaskResult{ID: math.MaxUint64, Body: "context canceled"}},
		{"TaskResult/binary body", packets.TaskResult{ID: 1, OK: true, Body: "\x00\xff\x01\xfe" + reason255}},
		{"TaskResult/about 200 KB", packets.TaskResult{ID: 1 << 63, OK: true, Body: bigBody}},

		{"TaskCancel/zero", packets.TaskCancel{}},
		{"TaskCancel/max", packets.TaskCancel{ID: math.MaxUint64}},
		{"TaskCancelled/zero", packets.TaskCancelled{}},
		{"TaskCancelled/max", packets.TaskCancelled{ID: math.MaxUint64}},

		{"TaskOffer/empty", packets.TaskOffer{}},
		{"TaskOffer/built-ins and two own", packets.TaskOffer{Tasks: []packets.OfferedTask{
			{Name: "fibonacci", Builtin: true},
			{Name: "primes", Builtin: true},
			{Name: "sha", Load: 1, PerByte: true, MaxInput: 512 << 10, MaxOutput: 65, TimeoutMillis: 2000, Workers: 2},
			{Name: "thumb-2_x", Load: math.MaxUint64, MaxInput: packets.MaxTaskData, MaxOutput: packets.MaxTaskData,
				TimeoutMillis: math.MaxUint32, Workers: math.MaxUint16},
		}}},
		{"TaskOffer/one task, the shortest encoding", packets.TaskOffer{Tasks: []packets.OfferedTask{{Name: "a"}}}},
		{"TaskOffer/most tasks, longest names", packets.TaskOffer{Tasks: manyOffered(packets.MaxOfferedTasks)}},

		{"TaskInputRequest/empty input", packets.TaskInputRequest{ID: 1, Name: "sha"}},
		{"TaskInputRequest/binary", packets.TaskInputRequest{ID: math.MaxUint64, Name: "t", Input: []byte("\x00\xff\n,\"")}},
		{"TaskInputRequest/largest input", packets.TaskInputRequest{ID: 2, Name: strings.Repeat("n", packets.MaxTaskName),
			Input: []byte(strings.Repeat("i", packets.MaxTaskData))}},
	}
}

// smallCorpus is corpus without messages larger than limit bytes encoded
// (fuzz seeds and exhaustive truncation loops stay fast).
func smallCorpus(limit int) []namedMessage {
	var out []namedMessage
	for _, c := range corpus() {
		if len(packets.Encode(c.m)) <= limit {
			out = append(out, c)
		}
	}
	return out
}

// manyOffered returns n distinct offered tasks with the longest names.
func manyOffered(n int) []packets.OfferedTask {
	out := make([]packets.OfferedTask, n)
	for i := range out {
		name := fmt.Sprintf("t%02d", i)
		out[i] = packets.OfferedTask{Name: name + strings.Repeat("x", packets.MaxTaskName-len(name)), Load: uint64(i)}
	}
	return out
}

// manySlaves returns n distinct slave entries.
func manySlaves(n int) []packets.SlaveEntry {
	out := make([]packets.SlaveEntry, n)
	for i := range out {
		out[i] = packets.SlaveEntry{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), ID: uint16(30000 + i), MetricsPort: uint16(40000 + i)}
	}
	return out
}
