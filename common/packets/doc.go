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
// and are read by their length prefix (ReadFrame), never one Read per
// message. A frame whose version is not Version, whose type is unknown, whose
// length exceeds MaxPayload, or whose payload does not decode exactly is
// rejected; on TCP that closes the connection.
//
// Payload fields are big-endian integers; a string is a length (u8 for short
// reasons, u32 for results) followed by its bytes; an IP address is a u8
// length (4 or 16) followed by its bytes; a float64 is its IEEE-754 bits.
//
// Message types (values are fixed forever; new ones are only appended):
//
//	1  SlaveJoinRequest   UDP slave→master   (empty)
//	2  SlaveJoinReply     UDP master→slave   accepted u8, token u64, reason str8
//	3  SlaveJoinConfirm   UDP slave→master   token u64, ip, load u16, task u16, result u16
//	4  LinkHello          TCP master→slave   token u64, link u8, poll interval ms u32
//	5  LoadRequest        TCP master→slave   seq u32
//	6  LoadReport         TCP slave→master   seq u32, load f64, factor f64, committed u64, max u64, tasks u32
//	7  TaskRequest        TCP master→slave   id u64, task u8, n u64
//	8  TaskAck            TCP slave→master   id u64
//	9  TaskNak            TCP slave→master   id u64, reason str8
//	10 TaskResult         TCP slave→master   id u64, ok u8, body str32
//
// The handshake: a slave broadcasts SlaveJoinRequest; the master answers
// SlaveJoinReply (an ACK carries a fresh random token, a NAK a reason); the
// slave sends ten SlaveJoinConfirm (best effort over UDP) with its three TCP
// ports; the master dials each port and opens it with LinkHello carrying the
// token, so only the master that acknowledged the slave can take its links.
package packets
