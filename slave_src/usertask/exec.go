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
	argv      []string // argv[0] resolved to a path when built
	maxOutput int
}

// newExecRunner resolves the program on the slave's PATH, so a missing one
// is found at start-up rather than at the first task.
func newExecRunner(sp Spec) (*execRunner, error) {
	path, err := exec.LookPath(sp.Exec[0])
	if err != nil {
		return nil, fmt.Errorf("task %s: exec: %w", sp.Name, err)
	}
	argv := append([]string{path}, sp.Exec[1:]...)
	return &execRunner{argv: argv, maxOutput: int(sp.MaxOutput)}, nil
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

	cmd := exec.CommandContext(ctx, r.argv[0], r.argv[1:]...)
	cmd.Env = Environment
	cmd.Stdin = bytes.NewReader(input)
	ownGroup(cmd)
	// The pipes are ours, not exec's: Wait then returns when the program
	// exits, even if a child it left still holds them, and the group is
	// killed right after.
	var readers sync.WaitGroup
	outW, err := pipeTo(&readers, stdout)
	if err != nil {
		return nil, err
	}
	errW, err := pipeTo(&readers, stderr)
	if err != nil {
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.WaitDelay = time.Second // for the stdin copy, should a child hold stdin unread
	err = cmd.Start()
	outW.Close() // the program has its copies
	errW.Close()
	if err == nil {
		err = cmd.Wait()
		killGroup(cmd)
	}
	readers.Wait()
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

// pipeTo returns the write end of a pipe whose read end a goroutine,
// counted in readers, copies into w until every writer has closed it.
func pipeTo(readers *sync.WaitGroup, w io.Writer) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		defer pr.Close()
		_, _ = io.Copy(w, pr)
		_, _ = io.Copy(io.Discard, pr) // past a cap: drain, so no writer blocks until the kill
	}()
	return pw, nil
}
