package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// BuildCommand builds the command cmd/name of this module into a directory
// of the test's and returns the binary's path. Go's build cache makes the
// second build of a test run cheap.
func BuildCommand(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/lbproject/loadbalancer/cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// Process is a daemon running as a process of its own, so that a test can
// kill it as a crash would: no drain, no goodbye, its sockets closed by the
// kernel.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartProcess runs bin with args, its output in the test log, in a
// temporary directory of its own (also its TMPDIR, so that slaves counting
// the host's cores count only each other). It is SIGKILLed, if still
// running, when the test ends.
func StartProcess(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.Stdout, cmd.Stderr = tlogWriter{t}, tlogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = cmd.Wait() // killed or stopped: the test judges what it did
	}()
	t.Cleanup(p.Kill)
	return p
}

// Kill SIGKILLs the process and waits until it is gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}
