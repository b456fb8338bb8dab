package master

import (
	"strconv"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// job is one task request as dispatch places it: a built-in task on a
// number, or a slave's own task on input bytes.
type job struct {
	name    string
	index   uint8 // the catalogue's index: balance.Choice.Task
	builtin bool
	n       uint64 // a built-in's input
	input   []byte // a slave's own task's input
	load    uint64
	timeout time.Duration // from the first dispatch to the result
}

// request is the job's message on the task link.
func (j job) request(id uint64) packets.Message {
	if j.builtin {
		return packets.TaskRequest{ID: id, Task: j.index, N: j.n}
	}
	return packets.TaskInputRequest{ID: id, Name: j.name, Input: j.input}
}

// String names the job in messages: "fibonacci n=90", "sha (12 bytes)".
func (j job) String() string {
	if j.builtin {
		return j.name + " n=" + strconv.FormatUint(j.n, 10)
	}
	return j.name + " (" + strconv.Itoa(len(j.input)) + " bytes)"
}
