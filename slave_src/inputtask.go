package slave

import (
	"context"
	"fmt"
	"sync"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/slave_src/usertask"
)

// offersAfter returns the loop that sends the TaskOffer again whenever the
// operator's tasks change; changed belongs to the offer serve sent first.
func (ss *session) offersAfter(changed <-chan struct{}) func(context.Context, *sync.WaitGroup) error {
	return func(hard context.Context, _ *sync.WaitGroup) error {
		for {
			select {
			case <-hard.Done():
				return nil
			case <-changed:
			}
			var set *usertask.Set
			set, changed = ss.s.offers.current()
			if err := ss.results.Write(ss.s.offers.message(set)); err != nil {
				return fmt.Errorf("result link: %w", err)
			}
		}
	}
}

// admitInput makes the job of an operator's task offered now and reserves
// its load; the session's lock is held.
func (ss *session) admitInput(req packets.TaskInputRequest) (job, error) {
	set, _ := ss.s.offers.current()
	t, ok := set.Get(req.Name)
	if !ok {
		return job{}, fmt.Errorf("task %s is not offered by this slave", req.Name)
	}
	if len(req.Input) > int(t.MaxInput) {
		return job{}, fmt.Errorf("input of %d bytes exceeds %s's max-input (%d bytes)", len(req.Input), t.Name, t.MaxInput)
	}
	j := job{name: t.Name, load: t.LoadOf(req.Input), ownLane: t.OwnLane()}
	j.compute = func(ctx context.Context) (string, error) {
		body, err := t.Run(ctx, req.Input)
		return string(body), err
	}
	return j, ss.s.exec.reserve(j.load)
}
