package usertask

import (
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
)

// FuzzParseSpec: any -task value gives a spec within every limit or a
// one-line error, never a panic; a spec given back in its own syntax parses
// to itself.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"name=sha,exec=sha256sum",
		`name=first, "exec=cut -d, -f1",max-output=64KiB`,
		"name=t,http=http://127.0.0.1:8080/thumb,load=per-byte,max-input=1000,timeout=2s,workers=3",
		"name=a,exec=cat,load=7/byte",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.ContainsAny(s, "\n") {
				t.Fatalf("ParseSpec(%q): error of more than one line: %q", s, err)
			}
			return
		}
		checkLimits(t, sp)
	})
}

// FuzzParseFile: the same for a -tasks file.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`[{"name": "sha", "exec": "sha256sum", "timeout": "5s", "workers": 2}]`))
	f.Add([]byte(`[{"name": "a", "http": "http://127.0.0.1/", "load": "per-byte", "max-input": 1000}, {"name": "b", "exec": "cat"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		specs, err := ParseFile(data)
		if err != nil {
			return
		}
		for _, sp := range specs {
			checkLimits(t, sp)
		}
	})
}

func checkLimits(t *testing.T, sp Spec) {
	t.Helper()
	o := sp.Offer()
	switch {
	case !packets.ValidTaskName(sp.Name):
		t.Fatalf("accepted the name %q", sp.Name)
	case (len(sp.Exec) == 0) == (sp.HTTP == ""):
		t.Fatalf("accepted %+v: not exactly one of exec and http", sp)
	case sp.Load == 0:
		t.Fatalf("accepted load 0: %+v", sp)
	case o.MaxInput > packets.MaxTaskData || o.MaxOutput > packets.MaxTaskData:
		t.Fatalf("accepted sizes over MaxTaskData: %+v", o)
	case sp.Timeout < 1e6 || sp.Timeout > MaxTimeout || o.TimeoutMillis == 0:
		t.Fatalf("accepted the timeout %s", sp.Timeout)
	}
	_ = sp.worstLoad() // cannot overflow: build checked
	for _, arg := range sp.Exec {
		if arg == "" || strings.ContainsAny(arg, " \t\n") {
			t.Fatalf("exec argument %q: not split on spaces", arg)
		}
	}
}
