package usertask

import (
	"fmt"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Set is the operator's tasks of one configuration, by name. It is
// immutable: a re-read tasks file makes a new Set, and the tasks still
// running keep their old Task.
type Set struct {
	order  []*Task
	byName map[string]*Task
}

// NewSet builds every spec. It refuses two tasks of one name, more than
// maxTasks tasks, and a task that could never fit under the slave's maxLoad.
func NewSet(specs []Spec, maxTasks int, maxLoad uint64) (*Set, error) {
	if len(specs) > maxTasks {
		return nil, fmt.Errorf("%d tasks defined: a slave offers at most %d besides the built-ins", len(specs), maxTasks)
	}
	s := &Set{byName: make(map[string]*Task, len(specs))}
	for _, sp := range specs {
		if _, dup := s.byName[sp.Name]; dup {
			return nil, sp.errorf("defined twice")
		}
		if worst := sp.worstLoad(); worst > maxLoad {
			return nil, sp.errorf("load: its largest input costs %d, over the slave's max load %d", worst, maxLoad)
		}
		t, err := New(sp)
		if err != nil {
			return nil, err
		}
		s.order = append(s.order, t)
		s.byName[sp.Name] = t
	}
	return s, nil
}

// Get returns the task called name.
func (s *Set) Get(name string) (*Task, bool) {
	t, ok := s.byName[name]
	return t, ok
}

// Offers lists the tasks, in the order they were defined, for a TaskOffer.
func (s *Set) Offers() []packets.OfferedTask {
	offers := make([]packets.OfferedTask, len(s.order))
	for i, t := range s.order {
		offers[i] = t.Offer()
	}
	return offers
}
