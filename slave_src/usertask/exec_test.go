package usertask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execTask builds a task running argv; tests give sh -c scripts this way
// (the product never runs a shell: -task splits exec= on spaces).
func execTask(t *testing.T, argv []string, edit func(*Spec)) *Task {
	t.Helper()
	return newTestTask(t, func(sp *Spec) { sp.Exec = argv }, edit)
}

func TestExecChecksum(t *testing.T) {
	input := bytes.Repeat([]byte("checksum me\x00\xff"), 10000)
	out, err := execTask(t, []string{"sha256sum"}, nil).Run(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(input)
	if want := hex.EncodeToString(sum[:]) + "  -\n"; string(out) != want {
		t.Errorf("sha256sum gave %q, want %q", out, want)
	}
}

func TestExecBinaryOutputAndEnvironment(t *testing.T) {
	t.Setenv("USERTASK_SECRET", "x") // the slave's: must not reach the program
	out, err := execTask(t, []string{"sh", "-c", `printf '\000\377\n'; env`}, nil).Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("USERTASK_SECRET")) {
		t.Errorf("the slave's environment reached the program: %q", out)
	}
	if !bytes.HasPrefix(out, []byte("\x00\xff\n")) {
		t.Errorf("binary output mangled: %q", out)
	}
	for _, want := range Environment {
		if !bytes.Contains(out, []byte(want+"\n")) {
			t.Errorf("environment lacks %s: %q", want, out)
		}
	}
	env, err := execTask(t, []string{"env"}, nil).Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(env), strings.Join(Environment, "\n")+"\n"; got != want {
		t.Errorf("env sees %q, want exactly %q", got, want)
	}
}

func TestExecFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		edit func(*Spec)
		in   []byte
		want string
	}{
		{"non-zero exit", []string{"sh", "-c", "echo partial; echo >&2; echo 'no such image' >&2; echo more >&2; exit 3"}, nil, nil, "exit status 3: no such image"},
		{"silent exit", []string{"false"}, nil, nil, "exit status 1"},
		{"signal", []string{"sh", "-c", "kill -TERM $$"}, nil, nil, "signal: terminated"},
		{"over max-output", []string{"sh", "-c", "head -c 5000 /dev/zero"}, func(s *Spec) { s.MaxOutput = 4096 }, nil, "output exceeds max-output (4096 bytes)"},
		{"over max-input", []string{"cat"}, func(s *Spec) { s.MaxInput = 3 }, []byte("four"), "input of 4 bytes exceeds max-input (3 bytes)"},
		{"timeout", []string{"sleep", "60"}, func(s *Spec) { s.Timeout = 50 * time.Millisecond }, nil, "timed out after 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execTask(t, tc.argv, tc.edit).Run(context.Background(), tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %q, %v; want the error %q", out, err, tc.want)
			}
		})
	}
}

func TestExecMissingProgram(t *testing.T) {
	_, err := New(Spec{Name: "t", Exec: []string{"no-such-program-here"}})
	if err == nil || !strings.Contains(err.Error(), "task t: exec:") {
		t.Errorf("New with a missing program: %v", err)
	}
}

// TestExecLeavesNoProcess: a program that forks and hangs, ended by its
// timeout, by max-output, by a cancel or by exiting with its children still
// running, leaves no process of its group behind.
func TestExecLeavesNoProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, script string
		edit         func(*Spec)
		cancel       bool
		want         string
	}{
		{"timeout", "sleep 60 & sleep 60 & sleep 60", func(s *Spec) { s.Timeout = 100 * time.Millisecond }, false, "timed out after 100ms"},
		{"over max-output", "sleep 60 & yes", func(s *Spec) { s.MaxOutput = 1000 }, false, "output exceeds max-output (1000 bytes)"},
		{"cancel", "sleep 60 & sleep 60", nil, true, context.Canceled.Error()},
		// The child keeps stdout open: the task still ends when sh does.
		{"exit with children", "sleep 60 & echo done", nil, false, ""},
		{"a child ignoring TERM", "trap '' TERM; sleep 60 & sleep 60", func(s *Spec) { s.Timeout = 100 * time.Millisecond }, false, "timed out after 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			task := execTask(t, []string{"sh", "-c", "echo $$ > " + pidFile + "; " + tc.script}, tc.edit)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				go func() {
					// The redirection creates the file before echo fills it.
					waitFor(t, func() bool { b, err := os.ReadFile(pidFile); return err == nil && strings.HasSuffix(string(b), "\n") })
					cancel()
				}()
			}
			out, err := task.Run(ctx, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Run: %v", err)
			case tc.want == "" && string(out) != "done\n":
				t.Errorf("Run gave %q, want done", out)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("Run = %q, %v; want the error %q", out, err, tc.want)
			}
			raw, rerr := os.ReadFile(pidFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			pgid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			if pgid <= 1 {
				t.Fatalf("pid file holds %q", raw)
			}
			if !waitFor(t, func() bool { return len(groupMembers(t, pgid)) == 0 }) {
				t.Errorf("process group %d still has %v", pgid, groupMembers(t, pgid))
			}
		})
	}
}

// waitFor polls cond for up to 5 s: a SIGKILLed process is gone a moment
// after the signal, and nothing reports that moment.
func waitFor(t *testing.T, cond func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// groupMembers lists the live (not zombie) processes of group pgid.
func groupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // not a process, or gone
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			members = append(members, e.Name()+" "+string(stat[:i+1]))
		}
	}
	return members
}

func TestExecContextCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("task cancelled by the master")
	cancel(cause)
	if _, err := execTask(t, []string{"cat"}, nil).Run(ctx, nil); !errors.Is(err, cause) {
		t.Errorf("Run on a cancelled context = %v, want its cause", err)
	}
}
