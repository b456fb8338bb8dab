// Package tasks is the registry of task types. Adding a task type means
// adding one file that calls Register from init with the task's name, wire
// code, input limit, load estimate and computation; the master validates and
// balances with it, the slave runs it.
package tasks

import (
	"context"
	"fmt"
	"sort"
)

// Task describes one task type.
type Task struct {
	// Name is the URL path (/Name?n=N) and the name in logs and metrics.
	Name string
	// Code identifies the task on the wire; never reuse one.
	Code uint8
	// MaxN is the largest accepted input; inputs run from 0 to MaxN.
	MaxN uint64
	// Load estimates the work of input n, in the units of a slave's max load.
	Load func(n uint64) uint64
	// CheapMaxN is the largest input that computes in about ten
	// microseconds: less than handing it to another goroutine costs.
	CheapMaxN uint64
	// Emulated tasks cost a service time (a cancellable wait), not CPU:
	// the lab's heterogeneous slaves on one host. A slave runs them only
	// when started with -emulate, and divides their time by its -speed.
	Emulated bool
	// Run computes the result as decimal text. It returns ctx.Err() when
	// cancelled before finishing.
	Run func(ctx context.Context, n uint64) (string, error)
}

// registry is written only by init functions and read-only afterwards.
var registry = map[string]Task{}

// Register adds t. It panics on a duplicate name or code: that is a
// programming error found at start-up.
func Register(t Task) {
	if _, dup := registry[t.Name]; dup {
		panic(fmt.Sprintf("tasks: duplicate task name %q", t.Name))
	}
	if _, dup := ByCode(t.Code); dup {
		panic(fmt.Sprintf("tasks: duplicate task code %d", t.Code))
	}
	registry[t.Name] = t
}

// ByName returns the task called name.
func ByName(name string) (Task, bool) {
	t, ok := registry[name]
	return t, ok
}

// ByCode returns the task with wire code c.
func ByCode(c uint8) (Task, bool) {
	for _, t := range registry {
		if t.Code == c {
			return t, true
		}
	}
	return Task{}, false
}

// All returns every task, ordered by code.
func All() []Task {
	all := make([]Task, 0, len(registry))
	for _, t := range registry {
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Code < all[j].Code })
	return all
}
