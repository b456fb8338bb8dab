// Package packets is the wire protocol between master, slaves and monitor.
//
// Every message, on UDP and on TCP alike, is one frame:
//
//	+---------+--------+----------------+-----------------+
//	| version | type   | length         | payload         |
//	| 1 byte  | 1 byte | 4 bytes, BE    | length bytes    |
//	+---------+--------+----------------+-----------------+
//
// A UDP datagram carries exactly one frame. On TCP, frames follow each other
// and are read by their length prefix (ReadFrame, FrameReader), never one
// Read per message; they are written whole, several to a Write when they
// queue up (BatchWriter). A frame whose version is not Version, whose type
// is unknown, whose length exceeds MaxPayload, or whose payload does not
// decode exactly is rejected; on TCP that closes the connection.
//
// Payload fields are big-endian integers; a string is a length (u8 for short
// reasons, u32 for results) followed by its bytes; an IP address is a u8
// length (4 or 16) followed by its bytes; a float64 is its IEEE-754 bits.
//
// Message types (values are fixed forever; new ones are only appended):
//
//	1  SlaveJoinRequest   UDP slave→master   (empty)                          Go type JoinRequest
//	2  SlaveJoinReply     UDP master→slave   accepted u8, token u64, reason str8 Go type JoinReply
//	3  SlaveJoinConfirm   UDP slave→master   token u64, ip, load u16, task u16, result u16, metrics u16
//	4  LinkHello          TCP master→node    token u64, link u8 (1 load, 2 task, 3 result, 4 monitor), poll interval ms u32
//	5  LoadRequest        TCP master→slave   seq u32
//	6  LoadReport         TCP slave→master   seq u32, load f64, factor f64, committed u64, max u64, tasks u32
//	7  TaskRequest        TCP master→slave   id u64, task u8, n u64
//	8  TaskAck            TCP slave→master   id u64: accepted, the result follows (the master need not wait for it)
//	9  TaskNak            TCP slave→master   id u64, reason str8
//	10 TaskResult         TCP slave→master   id u64, ok u8, compute µs u64, body str32
//	11 MonitorJoinRequest UDP monitor→master (empty)                          Go type JoinRequest{Monitor: true}
//	12 MonitorJoinReply   UDP master→monitor as SlaveJoinReply                Go type JoinReply{Monitor: true}
//	13 MonitorJoinConfirm UDP monitor→master token u64, ip, port u16
//	14 SlaveListRequest   TCP monitor→master seq u32
//	15 SlaveList          TCP master→monitor seq u32, count u16, count × (ip, id u16, metrics port u16)
//	16 Sealed             UDP any            timestamp u64, nonce u64, inner frame, HMAC-SHA256 (see seal.go)
//	17 Leaving            TCP slave→master   (empty): draining, on the result link
//	18 LeaveAck           TCP master→slave   (empty): no task follows, on the task link
//	19 SlaveJoinRequestBound   UDP, sealed  from (ip, port u16): the sender's own address   Go type JoinRequest{From: ...}
//	20 SlaveJoinReplyBound     UDP, sealed  as SlaveJoinReply, then request nonce u64, to (ip, port u16), from (ip, port u16)
//	21 MonitorJoinRequestBound UDP, sealed  as SlaveJoinRequestBound, for a monitor
//	22 MonitorJoinReplyBound   UDP, sealed  as SlaveJoinReplyBound, for a monitor
//	23 TaskCancel         TCP master→slave   id u64: stop the task, or drop it if not started (task link)
//	24 TaskCancelled      TCP slave→master   id u64: stopped or dropped on a cancel, its load is free; no result follows
//	25 LoadReportWorkers  TCP slave→master   as LoadReport, then workers u16, busy u16, queued u32, completed u64, busy µs u64
//	26 TaskOffer          TCP slave→master   count u16 (≤ 64), count × (name str8, flags u8 (1 built-in, 2 load per byte),
//	                                         load u64, max input u32, max output u32, timeout ms u32, workers u16); result link
//	27 TaskInputRequest   TCP master→slave   id u64, name str8, input u32-length bytes (≤ MaxTaskData)
//
// The handshake: a slave broadcasts SlaveJoinRequest; the master answers
// SlaveJoinReply (an ACK carries a fresh random token, a NAK a reason); the
// slave sends ten SlaveJoinConfirm (best effort over UDP) with its three TCP
// ports; the master dials each port and opens it with LinkHello carrying the
// token, so only the master that acknowledged the slave can take its links.
// The monitor joins the same way with its own types and one link, on which
// it asks for the slave list.
//
// With a shared secret every handshake packet is Sealed, and the handshake
// uses the Bound types: the request claims its sender's address (the master
// refuses one that arrives from elsewhere), the reply names the request's
// nonce, the requester's address and the master's own, so a reply cannot
// be replayed to, or forwarded from, anywhere else. The links are then
// encrypted (common/securelink) with keys derived from the secret and the
// nonces of the request and of the reply that accepted it; LinkHello is the
// first frame inside. Without a secret the wire is the original one: types
// 1-18, plain frames.
//
// A task's life on the links: the master sends TaskRequest (a built-in, by
// code, on a number) or TaskInputRequest (an offered task, by name, on
// bytes); the slave answers TaskAck or TaskNak, then one of TaskResult or,
// after a TaskCancel, TaskCancelled. A slave sends TaskOffer first on its
// result link, and again when what it offers changes; it reports its load
// as LoadReportWorkers, which a master also accepts as the older
// LoadReport. A task name is [a-z][a-z0-9_-]*, at most 64 bytes.
//
// Versioning: the Version byte changes only for an incompatible change of
// the frame itself; a new message, or new fields, get new type values (as
// 19-22 did), so a node that does not know them drops them as unknown.
package packets
