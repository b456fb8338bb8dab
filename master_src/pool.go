package master

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// SlaveKey names a slave: its IP and its ID (the port of its discovery
// socket), so several slaves can share a host.
type SlaveKey struct {
	IP netip.Addr
	ID uint16
}

func (k SlaveKey) String() string { return netip.AddrPortFrom(k.IP, k.ID).String() }

// member is a slave in the pool: its links and the master's view of its load.
// The view fields are guarded by the pool's lock.
type member struct {
	key         SlaveKey
	seq         uint64
	link        *slaveLink
	metricsPort uint16

	maxLoad     uint64
	factor      float64   // CPU fraction from the last load report
	reported    float64   // load metric from the last load report
	lastReport  time.Time // when that report came
	outstanding uint64    // load assigned and not yet seen completed
	inFlight    int
	draining    bool // said it is leaving: finishing its tasks, taking no new one
	inPool      bool // false once removed: its last tasks may still finish
	// latency is, by task code, the peak-EWMA of the round trip per unit
	// of task load, in seconds: per task type, since a unit of load costs
	// orders of magnitude more time in one task than in another.
	latency []peakEWMA

	// For the status page (status.go): when it joined, how many load
	// reports came, and the load metric of the last len(history) of them
	// (report k at history[k%len(history)]).
	joinedAt time.Time
	reports  uint64
	history  []float64

	// What became of the tasks sent to it, counted by dispatch without
	// the pool's lock.
	done, failed, refused atomic.Uint64
}

// load is the master's view of the load metric: the DESIGN's committed load ×
// CPU fraction, with the committed load the master itself knows to be
// outstanding, so it never goes stale between polls.
func (m *member) load() float64 { return float64(m.outstanding) * m.factor }

var (
	errNoCapacity = errors.New("no slave has room for the task")
	errQueueFull  = errors.New("the wait queue is full")
)

// pool is the ordered set of live slaves and the algorithm that chooses
// among them. Placing a task and reserving its load happen under one lock,
// so concurrent requests see each other's choices.
type pool struct {
	maxQueue int

	mu      sync.Mutex
	members []*member // join order
	nextSeq uint64
	algo    Algorithm
	choice  choice // scratch for pickLocked: a placement allocates nothing
	queued  int
	changed chan struct{} // closed and replaced when room may have appeared

	// For the status page: load reports kept per slave, how long a lost
	// slave stays listed, and those lost in that time, oldest first.
	historyLen int
	lostFor    time.Duration
	lost       []slaveStatus
}

func newPool(algo Algorithm, maxQueue int) *pool {
	return &pool{algo: algo, maxQueue: maxQueue, changed: make(chan struct{})}
}

// notifyLocked wakes every request waiting for room.
func (p *pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// add puts a slave that answered its first load poll at the end of the pool.
func (p *pool) add(key SlaveKey, metricsPort uint16, link *slaveLink, first packets.LoadReport) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextSeq++
	m := &member{key: key, seq: p.nextSeq, link: link, metricsPort: metricsPort,
		joinedAt: time.Now(), history: make([]float64, p.historyLen), latency: make([]peakEWMA, taskCodes)}
	m.inPool = true
	p.forgetLostLocked(key)
	link.release = func(load uint64) { p.release(m, load) }
	link.observe = func(task uint8, rtt time.Duration, load uint64) { p.observe(m, task, rtt, load) }
	link.leave = func() { p.remove(m) }
	p.applyLocked(m, first)
	p.members = append(p.members, m)
	p.notifyLocked()
	return m
}

// remove drops m from the pool; removing twice is harmless. The status
// page lists it as lost for a while.
func (p *pool) remove(m *member) {
	cause, _ := m.link.cause()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.members {
		if x == m {
			p.members = append(p.members[:i], p.members[i+1:]...)
			m.inPool = false
			p.algo.untrack(m)
			p.keepLostLocked(m, cause, now)
			p.notifyLocked()
			return
		}
	}
}

// drain stops placing tasks on m, which finishes those it holds and leaves.
func (p *pool) drain(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.draining = true
}

// contains reports whether key is in the pool.
func (p *pool) contains(key SlaveKey) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.key == key {
			return true
		}
	}
	return false
}

// size returns the number of slaves and of requests waiting for room.
func (p *pool) size() (slaves, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members), p.queued
}

// report records a load report.
func (p *pool) report(m *member, r packets.LoadReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	grew := r.MaxLoad > m.maxLoad
	p.applyLocked(m, r)
	if grew && p.queued > 0 {
		p.notifyLocked()
	}
}

func (p *pool) applyLocked(m *member, r packets.LoadReport) {
	m.maxLoad, m.factor, m.reported, m.lastReport = r.MaxLoad, r.Factor, r.Load, time.Now()
	if len(m.history) > 0 {
		m.history[m.reports%uint64(len(m.history))] = chartValue(r.Load)
	}
	m.reports++
	p.trackLocked(m)
}

// trackLocked tells the algorithm that m's figures changed, unless m has
// left the pool (then the algorithm has forgotten it, and must not learn of
// it again from a late report or result).
func (p *pool) trackLocked(m *member) {
	if m.inPool {
		p.algo.track(m)
	}
}

// observe records the round trip of a task of the given type and load on m.
func (p *pool) observe(m *member, task uint8, rtt time.Duration, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.latency[task].observe(rtt.Seconds()/float64(max(load, 1)), time.Now())
	p.trackLocked(m)
}

// release returns the load of a task that m finished, refused or lost.
func (p *pool) release(m *member, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.outstanding -= load
	m.inFlight--
	p.trackLocked(m)
	if p.queued > 0 {
		p.notifyLocked()
	}
}

// acquire chooses a slave with room for load and reserves it there. Slaves
// in *skip (those that refused this task) are passed over; when only they
// have room, skip is cleared and the request waits for room to change.
// Waiting is bounded by the queue length and by deadline.
func (p *pool) acquire(ctx context.Context, task uint8, load uint64, skip *[]*member, deadline time.Time) (*member, error) {
	var timer *time.Timer
	queued := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if queued {
			p.mu.Lock()
			p.queued--
			p.mu.Unlock()
		}
	}()
	for {
		p.mu.Lock()
		m, skipped := p.pickLocked(task, load, *skip)
		if m != nil {
			m.outstanding += load
			m.inFlight++
			p.trackLocked(m)
			p.mu.Unlock()
			return m, nil
		}
		if skipped {
			*skip = (*skip)[:0]
		}
		if !queued {
			if p.queued >= p.maxQueue {
				p.mu.Unlock()
				return nil, errQueueFull
			}
			p.queued++
			queued = true
			timer = time.NewTimer(time.Until(deadline))
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, errNoCapacity
		}
	}
}

// pickLocked lets the algorithm choose among the slaves that fit. skipped
// reports that none fits but some slave in skip would.
func (p *pool) pickLocked(task uint8, load uint64, skip []*member) (m *member, skipped bool) {
	if len(p.members) == 0 {
		return nil, false
	}
	c := &p.choice
	*c = choice{task: task, load: load, members: p.members, skip: skip}
	defer func() { *c = choice{} }() // holds no slave after the placement
	if m := p.algo.Pick(c); m != nil {
		return m, false
	}
	c.skip = nil
	for _, m := range skip {
		if c.fits(m) && slices.Contains(p.members, m) {
			return nil, true
		}
	}
	return nil, false
}

// entries lists the slaves in pool order, with their metrics ports.
func (p *pool) entries() []packets.SlaveEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]packets.SlaveEntry, len(p.members))
	for i, m := range p.members {
		out[i] = packets.SlaveEntry{IP: m.key.IP, ID: m.key.ID, MetricsPort: m.metricsPort}
	}
	return out
}
