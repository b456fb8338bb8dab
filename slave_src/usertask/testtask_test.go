package usertask

import (
	"testing"
	"time"
)

// newTestTask builds a task from the tests' spec (name t, load 1, the
// default data caps, a 10 s limit), its runner set by runner and the rest
// changed by edit (nil: nothing).
func newTestTask(t *testing.T, runner, edit func(*Spec)) *Task {
	t.Helper()
	sp := Spec{Name: "t", Load: 1, MaxInput: DefaultMaxData, MaxOutput: DefaultMaxData, Timeout: 10 * time.Second}
	runner(&sp)
	if edit != nil {
		edit(&sp)
	}
	task, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	return task
}
