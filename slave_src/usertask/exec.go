package usertask

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Environment is all a program's environment holds: no variable of the
// slave's (its secret, its proxies) reaches the program.
var Environment = []string{"PATH=/usr/bin:/bin", "LANG=C"}

// maxStderr is how much of a program's stderr is kept for the failure's
// first line; the rest is read and dropped.
const maxStderr = 4096

// execRunner runs a program with the input on stdin; stdout is the result.
type execRunner struct {
	path      string   // the program, resolved when built
	argv      []string // as written: the program sees the name it was given
	maxOutput int
}

// newExecRunner resolves the program on the slave's PATH, so a missing one
// is found at start-up rather than at the first task.
func newExecRunner(sp Spec) (*execRunner, error) {
	path, err := exec.LookPath(sp.Exec[0])
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", sp.Name, err) // "exec: \"prog\": not found"
	}
	return &execRunner{path: path, argv: sp.Exec, maxOutput: int(sp.MaxOutput)}, nil
}

// Run runs the program in a process group of its own and, once it exits,
// kills what is left of the group: a task leaves no process behind. Ending
// ctx (the timeout, a cancel) or passing max-output kills the whole group
// at once.
func (r *execRunner) Run(ctx context.Context, input []byte) ([]byte, error) {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	stdout := &cappedBuffer{max: r.maxOutput}
	stdout.over = func() { stop(stdout.err()) }
	stderr := &cappedBuffer{max: maxStderr, over: func() {}}

	cmd := exec.CommandContext(ctx, r.path, r.argv[1:]...)
	cmd.Args[0] = r.argv[0]
	cmd.Env = Environment
	cmd.Stdin = bytes.NewReader(input)
	ownGroup(cmd)
	// The pipes are ours, not exec's: Wait then returns when the program
	// exits, even if a child it left still holds them, and the group is
	// killed right after.
	var out outputs
	defer out.close()
	outW, err := out.pipe(stdout)
	if err != nil {
		return nil, err
	}
	errW, err := out.pipe(stderr)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.WaitDelay = pipeGrace // for the stdin copy, should a child hold stdin unread
	err = cmd.Start()
	out.closeWriters() // the program has its copies
	if err == nil {
		err = cmd.Wait()
		killGroup(cmd)
	}
	out.wait(pipeGrace)
	return r.outcome(ctx, err, stdout, stderr)
}

// outcome turns how the program ended into the task's result or failure.
func (r *execRunner) outcome(ctx context.Context, err error, stdout, stderr *cappedBuffer) ([]byte, error) {
	if cause := context.Cause(ctx); cause != nil {
		return nil, cause // over max-output, timed out or cancelled: whatever the exit says
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		msg, _ := stderr.result()
		if line := firstLine(msg); line != "" {
			return nil, fmt.Errorf("%s: %s", exit.ProcessState, line)
		}
		return nil, fmt.Errorf("%s", exit.ProcessState)
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		return nil, fmt.Errorf("running %s: %w", r.argv[0], err)
	}
	return stdout.result()
}

// pipeGrace bounds the wait for a program's pipes to close once its group
// is killed: only a process that left the group (setsid) holds them longer.
const pipeGrace = time.Second

// outputs copies a program's stdout and stderr through pipes of our own.
type outputs struct {
	readers sync.WaitGroup
	reads   []*os.File
	writes  []*os.File
}

// pipe returns the write end of a pipe whose read end a goroutine copies
// into w until every writer has closed it.
func (o *outputs) pipe(w io.Writer) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	o.reads, o.writes = append(o.reads, pr), append(o.writes, pw)
	o.readers.Add(1)
	go func() {
		defer o.readers.Done()
		_, _ = io.Copy(w, pr)
		_, _ = io.Copy(io.Discard, pr) // past a cap: drain, so no writer blocks until the kill
	}()
	return pw, nil
}

func (o *outputs) closeWriters() {
	for _, f := range o.writes {
		_ = f.Close()
	}
	o.writes = nil
}

// wait waits for the copies to reach the end of their pipes, for at most
// grace; past it the read ends are closed, which ends the copies.
func (o *outputs) wait(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		o.readers.Wait()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		o.close()
		<-done
	}
}

// close closes what is left of the pipes: it ends the copies, so run it
// only once they are done, or to end them.
func (o *outputs) close() {
	o.closeWriters()
	for _, f := range o.reads {
		_ = f.Close()
	}
	o.reads = nil
}
