package master

import (
	"slices"
	"testing"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// A try whose request cannot go out (the slave said it is leaving, or its
// link is lost) gives its reserved load back and passes the slave over:
// a load reserved and never released would leave the slave full for good.
func TestFailedSendReleasesTheLoad(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 1, 10)
	mb := ms[0]
	mb.s.link = &slaveLink{calls: map[uint64]*call{}, leaving: true} // send refuses at once
	got, err := acquireNow(t, p, 10)
	if err != nil || got != mb {
		t.Fatalf("acquire = %v, %v; want the only slave", got, err)
	}
	r := &taskRun{m: &Master{log: logger.Discard(), pool: p}, j: job{name: "fibonacci", index: 1, builtin: true, n: 1, load: 10}}
	if r.start(mb) {
		t.Fatal("start reported a try sent on a link that refuses")
	}
	if mb.fig.Committed != 0 || mb.fig.InFlight != 0 {
		t.Fatalf("after the failed send the slave holds load %d in %d tasks, want none", mb.fig.Committed, mb.fig.InFlight)
	}
	if !slices.Contains(r.skip, balance.Slave(mb)) || len(r.tries) != 0 {
		t.Fatalf("skip %v, tries %d: want the slave passed over and no try", r.skip, len(r.tries))
	}
}
