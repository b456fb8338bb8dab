package slave

import (
	"fmt"
	"sync"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

// offers owns what the slave offers: the built-in tasks it runs and the
// operator's (-task, -tasks FILE). A reload re-reads the file; every session
// then sends the new TaskOffer.
type offers struct {
	specs    []usertask.Spec // from -task: fixed for the process's life
	file     string
	builtins []packets.OfferedTask
	maxLoad  uint64

	mu      sync.Mutex
	set     *usertask.Set
	changed chan struct{} // closed, and replaced, when set changes
}

func newOffers(o Options) (*offers, error) {
	of := &offers{specs: o.Tasks, file: o.TasksFile, maxLoad: o.MaxLoad, changed: make(chan struct{})}
	for _, t := range tasks.All() {
		if !t.Emulated || o.Emulate {
			of.builtins = append(of.builtins, packets.OfferedTask{Name: t.Name, Builtin: true})
		}
	}
	set, err := of.build()
	if err != nil {
		return nil, config.Invalid(err)
	}
	of.set = set
	return of, nil
}

// build makes the operator's tasks from -task and the file's current text.
func (of *offers) build() (*usertask.Set, error) {
	specs := of.specs
	if of.file != "" {
		fromFile, err := usertask.ReadFile(of.file)
		if err != nil {
			return nil, err
		}
		specs = append(specs[:len(specs):len(specs)], fromFile...)
	}
	return usertask.NewSet(specs, packets.MaxOfferedTasks-len(of.builtins), of.maxLoad)
}

// reload re-reads -tasks FILE. On an error the offer stays as it was.
func (of *offers) reload() error {
	set, err := of.build()
	if err != nil {
		return fmt.Errorf("tasks not reloaded: %w", err)
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	of.set = set
	close(of.changed)
	of.changed = make(chan struct{})
	return nil
}

// current returns the operator's tasks and a channel closed when they change.
func (of *offers) current() (*usertask.Set, <-chan struct{}) {
	of.mu.Lock()
	defer of.mu.Unlock()
	return of.set, of.changed
}

// message is the TaskOffer of set: the built-ins, then the operator's tasks.
func (of *offers) message(set *usertask.Set) packets.TaskOffer {
	return packets.TaskOffer{Tasks: append(of.builtins[:len(of.builtins):len(of.builtins)], set.Offers()...)}
}

// ReloadTasks re-reads -tasks FILE (on SIGHUP) and offers the new set to the
// master without a rejoin; tasks running keep their old definition.
func (s *Slave) ReloadTasks() error {
	if err := s.offers.reload(); err != nil {
		return err
	}
	set, _ := s.offers.current()
	s.opts.Log.Info("tasks reloaded", "offered", len(s.offers.message(set).Tasks))
	return nil
}
