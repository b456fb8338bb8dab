package usertask

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	specs, err := ReadFile("testdata/tasks.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []Spec{
		{Name: "sha", Exec: []string{"sha256sum"}, Load: DefaultLoad, MaxInput: DefaultMaxData, MaxOutput: DefaultMaxData, Timeout: 5 * time.Second, Workers: 2},
		{Name: "first", Exec: []string{"cut", "-d,", "-f1"}, Load: DefaultLoad, MaxInput: DefaultMaxData, MaxOutput: 64 << 10, Timeout: DefaultTimeout},
		{Name: "thumb", HTTP: "http://127.0.0.1:8080/thumb", Load: 1, PerByte: true, MaxInput: 1000, MaxOutput: DefaultMaxData, Timeout: DefaultTimeout},
	}
	if !reflect.DeepEqual(specs, want) {
		t.Errorf("ReadFile\n got %+v\nwant %+v", specs, want)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "want ["},
		{`{}`, "want [, got {"},
		{`[`, "want ]"},
		{`[1]`, "want {, got 1"},
		{`[{"name": "a", "exec": "cat"}] []`, "bytes after the list"},
		{`[{"name": "a", "exec": "cat", "exec": "tac"}]`, "task 1: task a: key exec given twice"},
		{`[{"name": "a", "exec": "cat"}, {"name": "b"}]`, "task 2: task b: give exactly one of exec= and http="},
		{`[{"name": "a", "exec": ["cat"]}]`, "task 1: exec: the value must be a string or a number"},
		{`[{"name": "a", "exec": "cat", "workers": true}]`, "workers: the value must be a string or a number"},
		{`[{"name": "a", "exec": "cat", "workers": null}]`, "must be a string or a number"},
		{`[{"name": "a", "exec": "cat", "workers": 1.5}]`, `task a: workers: "1.5" is not a number of workers`},
		{`[{"name": "a", "exec": "cat", "colour": "red"}]`, "task a: colour: unknown key"},
		{`[{"name": "a", "exec": "cat",}]`, "invalid character"},
	} {
		_, err := ParseFile([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFile(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
	if specs, err := ParseFile([]byte(" [ ] ")); err != nil || len(specs) != 0 {
		t.Errorf("an empty list: %v, %v; want no tasks and no error", specs, err)
	}
}

func TestReadFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte("["+strings.Repeat(" ", MaxFileSize)+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over MaxFileSize: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "tasks file") {
		t.Errorf("a missing file: %v", err)
	}
}
