package usertask

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

func TestParseSpec(t *testing.T) {
	defaults := Spec{Load: DefaultLoad, MaxInput: DefaultMaxData, MaxOutput: DefaultMaxData, Timeout: DefaultTimeout}
	with := func(f func(*Spec)) Spec {
		sp := defaults
		f(&sp)
		return sp
	}
	for _, tc := range []struct {
		in   string
		want Spec
	}{
		{"name=sha,exec=sha256sum", with(func(s *Spec) { s.Name, s.Exec = "sha", []string{"sha256sum"} })},
		{"name=nap,exec=sleep 3600,timeout=2s", with(func(s *Spec) {
			s.Name, s.Exec, s.Timeout = "nap", []string{"sleep", "3600"}, 2*time.Second
		})},
		{"name=thumb,http=http://127.0.0.1:8080/thumb,max-input=512KiB", with(func(s *Spec) {
			s.Name, s.HTTP, s.MaxInput = "thumb", "http://127.0.0.1:8080/thumb", 512<<10
		})},
		// A comma inside a value is CSV-quoted; spaces after commas are fine.
		{`name=first, "exec=cut -d, -f1"`, with(func(s *Spec) { s.Name, s.Exec = "first", []string{"cut", "-d,", "-f1"} })},
		{`"name=q","exec=printf ""%s"""`, with(func(s *Spec) { s.Name, s.Exec = "q", []string{"printf", `"%s"`} })},
		// Spaces split the arguments and nothing else: no shell, no quoting.
		{"name=a,exec=  tr  a-z   A-Z ", with(func(s *Spec) { s.Name, s.Exec = "a", []string{"tr", "a-z", "A-Z"} })},
		{"exec=cat,name=x-1_b", with(func(s *Spec) { s.Name, s.Exec = "x-1_b", []string{"cat"} })},
		{"name=a,exec=sh -c a=b", with(func(s *Spec) { s.Name, s.Exec = "a", []string{"sh", "-c", "a=b"} })},
		{"name=a,exec=cat,load=per-byte,max-input=1000", with(func(s *Spec) {
			s.Name, s.Exec, s.Load, s.PerByte, s.MaxInput = "a", []string{"cat"}, 1, true, 1000
		})},
		{"name=a,exec=cat,load=250/byte,workers=3,max-output=1MB", with(func(s *Spec) {
			s.Name, s.Exec, s.Load, s.PerByte, s.Workers, s.MaxOutput = "a", []string{"cat"}, 250, true, 3, 1_000_000
		})},
		{"name=a,exec=cat,load=7,max-input=0,timeout=1ms", with(func(s *Spec) {
			s.Name, s.Exec, s.Load, s.MaxInput, s.Timeout = "a", []string{"cat"}, 7, 0, time.Millisecond
		})},
		{"name=a,exec=cat,max-input=" + strconv.Itoa(packets.MaxTaskData), with(func(s *Spec) {
			s.Name, s.Exec, s.MaxInput = "a", []string{"cat"}, packets.MaxTaskData
		})},
	} {
		got, err := ParseSpec(tc.in)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSpec(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "name= is required"},
		{"exec=cat", "name= is required"},
		{"name=a", "exactly one of exec= and http="},
		{"name=a,exec=cat,http=http://127.0.0.1/", "exactly one of exec= and http="},
		{"name=a,exec=", "task a: exec: names no program"},
		{"name=a,exec=   ", "task a: exec: names no program"},
		{"name=a,exec=cat,colour=red", "task a: colour: unknown key: valid ones are name, exec"},
		{"name=a,exec=cat,exec=tac", "task a: key exec given twice"},
		{"name=a,name=b,exec=cat", "task a: key name given twice"},
		{"name=a,exec", `"exec" is not key=value`},
		{"name=A,exec=cat", `task: name: "A" is not a task name`},
		{"name=1a,exec=cat", "is not a task name"},
		{"name=a.b,exec=cat", "is not a task name"},
		{"name=" + strings.Repeat("a", packets.MaxTaskName+1) + ",exec=cat", "is not a task name"},
		{"name=metrics,exec=cat", `"metrics" is one of the master's own paths`},
		{"name=api,exec=cat", "master's own paths"},
		{"name=static,exec=cat", "master's own paths"},
		{"name=fibonacci,exec=cat", `"fibonacci" is a built-in task`},
		{"name=primes,exec=cat", "built-in task"},
		{"name=work,exec=cat", "built-in task"},
		{"name=a,http=ftp://x/", "task a: http: \"ftp://x/\" is not an http:// or https:// URL"},
		{"name=a,http=http:///path", "names no host"},
		{"name=a,http=http://u:p@127.0.0.1/", "carries credentials"},
		{"name=a,http=%zz", "task a: http:"},
		{"name=a,exec=cat,load=0", `task a: load: "0" is not a load`},
		{"name=a,exec=cat,load=-1", "is not a load"},
		{"name=a,exec=cat,load=per-kilo", "is not a load"},
		{"name=a,exec=cat,load=/byte", "is not a load"},
		{"name=a,exec=cat,load=18446744073709551615/byte", "overflows"},
		{"name=a,exec=cat,max-input=8MiB", "task a: max-input: 8MiB exceeds the limit of"},
		{"name=a,exec=cat,max-output=" + strconv.Itoa(packets.MaxTaskData+1), "task a: max-output:"},
		{"name=a,exec=cat,max-output=lots", `"lots" is not a size`},
		{"name=a,exec=cat,max-output=-1", "is not a size"},
		{"name=a,exec=cat,max-output=KiB", "is not a size"},
		{"name=a,exec=cat,max-output=99999999999999999999", "is not a size"},
		{"name=a,exec=cat,timeout=soon", "task a: timeout: time: invalid duration"},
		{"name=a,exec=cat,timeout=0s", "is not between 1ms and 24h0m0s"},
		{"name=a,exec=cat,timeout=-1s", "is not between"},
		{"name=a,exec=cat,timeout=25h", "is not between"},
		{"name=a,exec=cat,workers=65536", `task a: workers: "65536" is not a number of workers`},
		{"name=a,exec=cat,workers=-1", "is not a number of workers"},
		{`name=a,"exec=cat`, "extraneous or missing \" in quoted-field"},
		{"name=a,exec=cat\nname=b,exec=cat", "a spec is one line"},
	} {
		_, err := ParseSpec(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSpec(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q): error of more than one line: %q", tc.in, err)
		}
	}
}

func TestOffer(t *testing.T) {
	sp, err := ParseSpec("name=sha,exec=sha256sum,load=3/byte,max-input=1KiB,max-output=100,timeout=1500ms,workers=2")
	if err != nil {
		t.Fatal(err)
	}
	want := packets.OfferedTask{Name: "sha", PerByte: true, Load: 3, MaxInput: 1024, MaxOutput: 100, TimeoutMillis: 1500, Workers: 2}
	if got := sp.Offer(); got != want {
		t.Errorf("Offer() = %+v, want %+v", got, want)
	}
	if got := sp.LoadOf(make([]byte, 10)); got != 30 {
		t.Errorf("LoadOf(10 bytes) = %d, want 30", got)
	}
	sp.PerByte = false
	if got := sp.LoadOf(make([]byte, 10)); got != 3 {
		t.Errorf("constant LoadOf = %d, want 3", got)
	}
}

// Every one of the master's paths is refused as a task name, from the list
// the master refuses offers by.
func TestParseSpecRefusesEveryReservedName(t *testing.T) {
	for _, name := range tasks.ReservedNames {
		_, err := ParseSpec("name=" + name + ",exec=cat")
		switch {
		case err == nil:
			t.Errorf("name=%s accepted", name)
		case packets.ValidTaskName(name) && !strings.Contains(err.Error(), "master's own paths"):
			t.Errorf("name=%s: %v, want it refused as one of the master's paths", name, err)
		}
	}
}
