package master

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// member is a slave's placement figures in the pool, guarded by the pool's
// lock. The algorithms read them through balance.Slave.
type member struct {
	fig balance.Figures
	s   *session // the slave's session, for dispatch to reach its link

	reported   float64   // load metric from the last load report
	lastReport time.Time // when that report came
	// The slave's running counters in that report, for the rates between
	// reports.
	completed, busyMicros uint64
	inPool                bool // false once removed: its last tasks may still finish
	outlier               outlierState
}

func (mb *member) Figures() *balance.Figures { return &mb.fig }

var _ balance.Slave = (*member)(nil)

// newMember builds the figures of a slave from its first load report. It
// offers the built-in tasks until it says otherwise.
func newMember(s *session, first packets.LoadReport) *member {
	mb := &member{s: s}
	mb.fig.Latency = make([]balance.PeakEWMA, taskCodes)
	mb.fig.Offers = builtinOffers
	mb.apply(first, time.Now())
	return mb
}

// apply records load report r, received at now: the figures it sets, and
// the completion rate and utilisation since the previous report.
func (mb *member) apply(r packets.LoadReport, now time.Time) {
	f := &mb.fig
	f.Rate, f.Utilisation = 0, 0
	dt := now.Sub(mb.lastReport).Seconds()
	// Counters that went back mean the slave restarted them: no rate this
	// time. A report that did not come after the previous one has none either.
	if !mb.lastReport.IsZero() && dt > 0 && r.Completed >= mb.completed && r.BusyMicros >= mb.busyMicros {
		f.Rate = float64(r.Completed-mb.completed) / dt
		if r.Workers > 0 {
			// At most 1: the two clocks' jitter, or a hostile figure, cannot
			// make a slave look more than fully busy.
			f.Utilisation = min(float64(r.BusyMicros-mb.busyMicros)/1e6/(dt*float64(r.Workers)), 1)
		}
	}
	f.MaxLoad, f.Factor, f.Workers, f.Busy = r.MaxLoad, r.Factor, int(r.Workers), int(r.Busy)
	mb.reported, mb.lastReport, mb.completed, mb.busyMicros = r.Load, now, r.Completed, r.BusyMicros
}

var (
	errNoCapacity = errors.New("no slave has room for the task")
	errQueueFull  = errors.New("the wait queue is full")
)

// pool is the ordered set of slaves that take tasks and the algorithm that
// chooses among them. Placing a task and reserving its load happen under one
// lock, so concurrent requests see each other's choices.
type pool struct {
	maxQueue int
	// slowStart is the span over which a slave that (re)enters the pool
	// warms up to its full share (0: off); set before the pool is used.
	slowStart time.Duration
	// ignoreWorkers places as if no slave reported worker slots
	// (-free-workers=false); set before the pool is used.
	ignoreWorkers bool
	// maxUnfinished bounds each slave's unfinished tasks (0: no bound);
	// outliers says when a slave is ejected. Both are set before the
	// first slave joins.
	maxUnfinished int
	outliers      outlierRules

	mu      sync.Mutex
	members []balance.Slave // join order; each a *member
	nextSeq uint64
	algo    balance.Algorithm
	choice  balance.Choice // scratch for pickLocked: a placement allocates nothing
	queued  int
	ejected int           // members with Figures.Ejected
	changed chan struct{} // closed and replaced when room may have appeared
}

func newPool(algo balance.Algorithm, maxQueue int) *pool {
	return &pool{algo: algo, maxQueue: maxQueue, changed: make(chan struct{})}
}

// notifyLocked wakes every request waiting for room.
func (p *pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// add puts a slave at the end of the pool.
func (p *pool) add(mb *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextSeq++
	mb.fig.Seq, mb.inPool, mb.fig.WarmSince = p.nextSeq, true, time.Now()
	mb.fig.MaxInFlight = p.maxUnfinished
	p.members = append(p.members, mb)
	p.trackLocked(mb)
	p.notifyLocked()
}

// remove drops mb from the pool; removing twice is harmless.
func (p *pool) remove(mb *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.members, balance.Slave(mb)); i >= 0 {
		p.members = slices.Delete(p.members, i, i+1)
		mb.inPool = false
		if mb.fig.Ejected {
			p.ejected--
		}
		p.algo.Untrack(mb)
		p.notifyLocked()
	}
}

// drain stops placing tasks on mb, which finishes those it holds and leaves.
func (p *pool) drain(mb *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb.fig.Draining = true
	p.trackLocked(mb)
}

// size returns the number of slaves and of requests waiting for room.
func (p *pool) size() (slaves, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members), p.queued
}

// report records a load report that came at now, and reports whether it
// ended mb's ejection.
func (p *pool) report(mb *member, r packets.LoadReport, now time.Time) (returned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	grew := r.MaxLoad > mb.fig.MaxLoad
	mb.apply(r, now)
	if p.maxUnfinished > 0 {
		// A slave with many workers may hold more: 4 tasks per worker.
		mb.fig.MaxInFlight = max(p.maxUnfinished, 4*int(r.Workers))
	}
	p.trackLocked(mb)
	if grew && p.queued > 0 {
		p.notifyLocked()
	}
	return p.returnIfDueLocked(mb, now)
}

// trackLocked brings the figures derived from the others up to date (Idle:
// the workers the master's own count leaves free) and tells the algorithm
// that mb's figures changed, unless mb has left the pool (then the
// algorithm has forgotten it, and must not learn of it again from a late
// report or result).
func (p *pool) trackLocked(mb *member) {
	if p.ignoreWorkers {
		mb.fig.Workers = 0
	}
	mb.fig.Idle = max(mb.fig.Workers-mb.fig.InFlight, 0)
	if mb.inPool {
		p.algo.Track(mb)
	}
}

// observe records the round trip and computing time of a task of the given
// type and load on mb (least_latency and prequal read them).
func (p *pool) observe(mb *member, task uint8, rtt, compute time.Duration, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	mb.fig.Latency[task].Observe(rtt.Seconds()/float64(max(load, 1)), now)
	mb.outlier.lastResult = now
	mb.fig.ObserveService(compute.Seconds())
	p.trackLocked(mb)
}

// release returns the load of a task that mb finished, refused or lost.
func (p *pool) release(mb *member, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb.fig.Committed -= load
	mb.fig.InFlight--
	p.trackLocked(mb)
	if p.queued > 0 {
		p.notifyLocked()
	}
}

// acquire chooses a slave with room for load and reserves it there. Slaves
// in *skip (those that refused this task) are passed over; when only they
// have room, skip is cleared and the request waits for room to change.
// Waiting is bounded by the queue length and by deadline.
func (p *pool) acquire(ctx context.Context, task uint8, load uint64, skip *[]balance.Slave, deadline time.Time) (*member, error) {
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
		mb, skipped := p.pickLocked(task, load, *skip)
		if mb != nil {
			p.reserveLocked(mb, load)
			p.mu.Unlock()
			return mb, nil
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

// tryAcquire is acquire without waiting, for a hedge: a slave with room now,
// other than those in skip, with load reserved there; nil when none has.
func (p *pool) tryAcquire(task uint8, load uint64, skip []balance.Slave) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb, _ := p.pickLocked(task, load, skip)
	if mb != nil {
		p.reserveLocked(mb, load)
	}
	return mb
}

// reserveLocked counts a task placed on mb until release.
func (p *pool) reserveLocked(mb *member, load uint64) {
	mb.fig.Committed += load
	mb.fig.InFlight++
	p.trackLocked(mb)
}

// pickLocked lets the algorithm choose among the slaves that fit. skipped
// reports that none fits but some slave in skip would.
func (p *pool) pickLocked(task uint8, load uint64, skip []balance.Slave) (mb *member, skipped bool) {
	if len(p.members) == 0 {
		return nil, false
	}
	c := &p.choice
	*c = balance.Choice{Task: task, Load: load, Slaves: p.members, Skip: skip, SlowStart: p.slowStart}
	if p.slowStart > 0 {
		c.Now = time.Now() // once per placement, only when slow start needs it
	}
	defer func() { *c = balance.Choice{} }() // holds no slave after the placement
	if s := p.algo.Pick(c); s != nil {
		return s.(*member), false
	}
	c.Skip = nil
	for _, s := range skip {
		if c.Fits(s) && slices.Contains(p.members, s) {
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
	for i, s := range p.members {
		k := s.(*member).s
		out[i] = packets.SlaveEntry{IP: k.key.IP, ID: k.key.ID, MetricsPort: k.metricsPort}
	}
	return out
}

// builtinOffers are the codes of the tasks every slave offers unless it says
// otherwise: the registered ones.
var builtinOffers = func() balance.TaskSet {
	var set balance.TaskSet
	for _, t := range tasks.All() {
		set.Add(t.Code)
	}
	return set
}()

// taskCodes sizes the per-task-type latencies: every registered code is an
// index.
var taskCodes = func() int {
	n := 0
	for _, t := range tasks.All() {
		n = max(n, int(t.Code)+1)
	}
	return n
}()
