package slave

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

func mustSpec(t *testing.T, s string) usertask.Spec {
	t.Helper()
	sp, err := usertask.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func names(o packets.TaskOffer) []string {
	var n []string
	for _, t := range o.Tasks {
		n = append(n, t.Name)
	}
	return n
}

func TestOfferFirstOnTheResultLink(t *testing.T) {
	o := testOptions()
	o.Emulate = true
	o.Tasks = []usertask.Spec{mustSpec(t, "name=sha,exec=sha256sum,load=2/byte,max-input=1KiB,timeout=3s")}
	m := connectOptions(t, o, nil, time.Second)
	want := []packets.OfferedTask{
		{Name: "fibonacci", Builtin: true}, {Name: "primes", Builtin: true}, {Name: "work", Builtin: true},
		{Name: "sha", PerByte: true, Load: 2, MaxInput: 1024, MaxOutput: usertask.DefaultMaxData, TimeoutMillis: 3000},
	}
	if !reflect.DeepEqual(m.offer.Tasks, want) {
		t.Errorf("offer %+v\nwant %+v", m.offer.Tasks, want)
	}
	if got := names(connect(t, DefaultMaxLoad, nil).offer); !reflect.DeepEqual(got, []string{"fibonacci", "primes"}) {
		t.Errorf("without -emulate nor tasks the slave offers %v", got)
	}
}

func TestInputTasks(t *testing.T) {
	o := testOptions()
	o.MaxLoad = 100
	o.Tasks = []usertask.Spec{
		mustSpec(t, "name=sha,exec=sha256sum,load=10,max-input=16"),
		mustSpec(t, "name=fail,exec=ls /no/such/dir,load=1"),
		mustSpec(t, "name=nap,exec=sleep 60,load=60,timeout=10s"),
	}
	m := connectOptions(t, o, nil, time.Second)
	send := func(req packets.TaskInputRequest) {
		t.Helper()
		if _, err := m.task.Write(packets.Encode(req)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want packets.Message) {
		t.Helper()
		got := m.read(t, m.resultR)
		if r, ok := got.(packets.TaskResult); ok {
			r.ComputeMicros = 0
			got = r
		}
		if nak, ok := got.(packets.TaskNak); ok && strings.HasPrefix(nak.Reason, want.(packets.TaskNak).Reason) {
			return // the start is enough for a reason
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v\nwant %#v", got, want)
		}
	}
	input := []byte("a\x00b")
	sum := sha256.Sum256(input)
	send(packets.TaskInputRequest{ID: 1, Name: "sha", Input: input})
	expect(packets.TaskAck{ID: 1})
	expect(packets.TaskResult{ID: 1, OK: true, Body: hex.EncodeToString(sum[:]) + "  -\n"})

	send(packets.TaskInputRequest{ID: 2, Name: "md5", Input: input})
	expect(packets.TaskNak{ID: 2, Reason: "task md5 is not offered by this slave"})
	send(packets.TaskInputRequest{ID: 3, Name: "sha", Input: make([]byte, 17)})
	expect(packets.TaskNak{ID: 3, Reason: "input of 17 bytes exceeds sha's max-input (16 bytes)"})

	send(packets.TaskInputRequest{ID: 4, Name: "fail"})
	expect(packets.TaskAck{ID: 4})
	if r := m.read(t, m.resultR).(packets.TaskResult); r.OK || !strings.HasPrefix(r.Body, "exit status 2: ls: ") {
		t.Errorf("a failing program: %+v", r)
	}

	// The operator's tasks count against the max load like the built-ins.
	send(packets.TaskInputRequest{ID: 5, Name: "nap"})
	expect(packets.TaskAck{ID: 5})
	send(packets.TaskInputRequest{ID: 6, Name: "nap"})
	expect(packets.TaskNak{ID: 6, Reason: "load 60 on top of committed 60 exceeds max load 100"})
}

func TestReloadOffersTheNewTasks(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tasks.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"name": "up", "exec": "tr a-z A-Z"}]`)
	o := testOptions()
	o.TasksFile = file
	o.Tasks = []usertask.Spec{mustSpec(t, "name=sha,exec=sha256sum")}
	m := connectOptions(t, o, nil, time.Second)
	if got, want := names(m.offer), []string{"fibonacci", "primes", "sha", "up"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first offer %v, want %v", got, want)
	}
	write(`[{"name": "down", "exec": "tr A-Z a-z"}]`)
	if err := m.s.ReloadTasks(); err != nil {
		t.Fatal(err)
	}
	if got, want := names(m.read(t, m.resultR).(packets.TaskOffer)), []string{"fibonacci", "primes", "sha", "down"}; !reflect.DeepEqual(got, want) {
		t.Errorf("offer after the reload %v, want %v", got, want)
	}
	write(`[{"name": "sha", "exec": "cat"}]`)
	if err := m.s.ReloadTasks(); err == nil || !strings.Contains(err.Error(), "task sha: defined twice") {
		t.Errorf("a reload clashing with -task: %v", err)
	}
	if _, err := m.task.Write(packets.Encode(packets.TaskInputRequest{ID: 1, Name: "down", Input: []byte("QUIET")})); err != nil {
		t.Fatal(err)
	}
	m.read(t, m.resultR) // the ACK
	if r := m.read(t, m.resultR).(packets.TaskResult); !r.OK || r.Body != "quiet" {
		t.Errorf("the reloaded task after a failed reload: %+v", r)
	}
}

func TestBadTasksAreConfigErrors(t *testing.T) {
	o := testOptions()
	o.TasksFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := New(o); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("New with a missing tasks file: %v, want a config error", err)
	}
	o = testOptions()
	o.MaxLoad = 5
	o.Tasks = []usertask.Spec{mustSpec(t, "name=sha,exec=sha256sum,load=6")}
	if _, err := New(o); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "over the slave's max load 5") {
		t.Errorf("New with a task over the max load: %v", err)
	}
}
