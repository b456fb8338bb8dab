package master

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
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
	mb := &member{s: s, fig: balance.Figures{Offers: defaultOffers}} // until its TaskOffer comes
	mb.fig.Latency = make([]balance.PeakEWMA, math.MaxUint8+1)       // by task index
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
	errNoCapacity      = errors.New("no slave has room for the task")
	errQueueFull       = errors.New("the wait queue is full")
	errClientQueueFull = errors.New("this client has too many requests waiting")
)

// pool is the ordered set of slaves that take tasks and the algorithm that
// chooses among them. Placing a task and reserving its load happen under one
// lock, so concurrent requests see each other's choices.
type pool struct {
	maxQueue        int
	clientMaxQueued int // 0: no cap per client
	waits           queueWaits
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
	waiting waitQueue
	noRoom  []sized // scratch for notifyLocked
	ejected int     // members with Figures.Ejected
}

func newPool(algo balance.Algorithm, maxQueue, clientMaxQueued int) *pool {
	return &pool{algo: algo, maxQueue: maxQueue, clientMaxQueued: clientMaxQueued,
		waits: newQueueWaits(), waiting: newWaitQueue()}
}

// Bounds on one hand-off of room to the queue, so that a release stays
// cheap however long the queue is: so many algorithm choices, so many
// waiters looked at.
const (
	maxHandOffPicks = 8
	maxHandOffLooks = 256
)

// sized is a task type and load that found no slave with room.
type sized struct {
	task uint8
	load uint64
}

// notifyLocked hands the room that may have appeared to the waiters that
// fit, in the queue's fair order: each client in turn, its oldest waiter
// that fits. Each waiter placed has its slave reserved and is woken alone;
// waiters that do not fit stay asleep. A waiter whose only fitting slaves
// refused it has its refusals forgotten, to be placed on the next change.
func (p *pool) notifyLocked() {
	q := &p.waiting
	p.noRoom = p.noRoom[:0]
	b := handOffBudget{picks: maxHandOffPicks, looks: maxHandOffLooks}
	for cq, idle := q.turn, 0; cq != nil && idle < len(q.clients) && b.left(); { // idle: clients passed over since the last placement
		next := cq.next // still in the ring after cq leaves it, unless the queue empties
		if !p.placeOneLocked(cq, &b) {
			if !b.left() {
				// The budget ran out on cq's waiters: the next hand-off
				// starts after cq, so that one client's many waiters that
				// do not fit cannot spend every hand-off's budget while
				// another client's would fit.
				q.turn = next
				return
			}
			idle, cq = idle+1, next
			continue
		}
		if q.n == 0 {
			return
		}
		idle, q.turn, cq = 0, next, next
	}
}

// handOffBudget is what is left of one hand-off's bounds.
type handOffBudget struct{ picks, looks int }

func (b *handOffBudget) left() bool { return b.picks > 0 && b.looks > 0 }

// placeOneLocked places cq's oldest waiter that fits, if any fits.
func (p *pool) placeOneLocked(cq *clientQueue, b *handOffBudget) bool {
	for w := cq.head; w != nil && b.left(); w = w.next {
		b.looks--
		if p.knownNoRoomLocked(w) {
			continue
		}
		b.picks--
		mb, skipped := p.pickLocked(w.task, w.load, *w.skip)
		switch {
		case mb != nil:
			p.reserveLocked(mb, w.load)
			p.waiting.remove(w)
			w.placed <- mb
			return true
		case skipped:
			*w.skip = (*w.skip)[:0]
		case len(*w.skip) == 0:
			p.noRoom = append(p.noRoom, sized{w.task, w.load})
		}
	}
	return false
}

// knownNoRoomLocked reports that w cannot fit: this hand-off already found
// no slave for a task of its type as light as it (fitting only gets harder
// with load).
func (p *pool) knownNoRoomLocked(w *waiter) bool {
	if len(*w.skip) > 0 {
		return false
	}
	for _, s := range p.noRoom {
		if s.task == w.task && w.load >= s.load {
			return true
		}
	}
	return false
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

// setOffers records the tasks mb offers now; requests waiting for a slave
// that offers theirs may find one.
func (p *pool) setOffers(mb *member, offers balance.TaskSet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb.fig.Offers = offers
	p.trackLocked(mb)
	if p.waiting.n > 0 {
		p.notifyLocked()
	}
}

// size returns the number of slaves and of requests waiting for room.
func (p *pool) size() (slaves, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members), p.waiting.n
}

// report records a load report that came at now, and reports whether it
// ended mb's ejection.
func (p *pool) report(mb *member, r packets.LoadReport, now time.Time) (returned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	oldMax, oldInFlight := mb.fig.MaxLoad, mb.fig.MaxInFlight
	mb.apply(r, now)
	if p.maxUnfinished > 0 {
		// A slave with many workers may hold more: 4 tasks per worker.
		mb.fig.MaxInFlight = max(p.maxUnfinished, 4*int(r.Workers))
	}
	p.trackLocked(mb)
	if mb.fig.MaxLoad > oldMax || mb.fig.MaxInFlight > oldInFlight { // room grew
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

// observeLocked records the round trip and computing time of a task of the
// given type and load on mb (least_latency and prequal read them).
func (p *pool) observeLocked(mb *member, task uint8, rtt, compute time.Duration, load uint64) {
	now := time.Now()
	mb.fig.Latency[task].Observe(rtt.Seconds()/float64(max(load, 1)), now)
	mb.outlier.lastResult = now
	mb.fig.ObserveService(compute.Seconds())
}

// finished returns the load of a task mb answered and, for a result, records
// its times as observe does: one lock and one re-ranking per answer.
func (p *pool) finished(mb *member, task uint8, load uint64, rtt, compute time.Duration, result bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if result {
		p.observeLocked(mb, task, rtt, compute, load)
	}
	p.releaseLocked(mb, load)
}

// release returns the load of a task that mb finished, refused or lost.
func (p *pool) release(mb *member, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(mb, load)
}

func (p *pool) releaseLocked(mb *member, load uint64) {
	mb.fig.Committed -= load
	mb.fig.InFlight--
	p.trackLocked(mb)
	p.notifyLocked()
}

// acquire chooses a slave with room for load and reserves it there. Slaves
// in *skip (those that refused this task) are passed over; when only they
// have room, skip is cleared and the request waits for room to change.
// Requests that find no room wait in the queue (see waitQueue), under the
// client ctx carries (withClient). Waiting is bounded by the queue length,
// the client's cap and by deadline.
func (p *pool) acquire(ctx context.Context, task uint8, load uint64, skip *[]balance.Slave, deadline time.Time) (*member, error) {
	mb, w, err := p.enter(clientOf(ctx), task, load, skip)
	if w == nil {
		return mb, err
	}
	return p.await(ctx, w, deadline)
}

// enter places the task at once if nobody waits (a request must not jump
// the queue) and a slave has room; otherwise it queues the request as
// client's and returns its waiter. A newcomer that fits where the waiters
// before it do not is placed by the hand-off, in fair order.
func (p *pool) enter(client netip.Addr, task uint8, load uint64, skip *[]balance.Slave) (*member, *waiter, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	others := p.waiting.n > 0
	mb, skipped := p.pickLocked(task, load, *skip)
	if mb != nil && !others {
		p.reserveLocked(mb, load)
		return mb, nil, nil
	}
	if skipped {
		*skip = (*skip)[:0]
	}
	switch {
	case p.clientMaxQueued > 0 && p.waiting.queuedBy(client) >= p.clientMaxQueued:
		return nil, nil, errClientQueueFull
	case p.waiting.n >= p.maxQueue:
		return nil, nil, errQueueFull
	}
	w := &waiter{task: task, load: load, skip: skip, placed: make(chan *member, 1)}
	p.waiting.push(w, client)
	if mb != nil {
		p.notifyLocked()
	}
	return nil, w, nil
}

// await waits until w is handed a slave, ctx ends or the deadline passes.
// A request whose ctx has ended never keeps a slave: one handed over as it
// ends is given back. One handed over as the deadline passes is kept (the
// request is placed, after all).
func (p *pool) await(ctx context.Context, w *waiter, deadline time.Time) (*member, error) {
	start := time.Now()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var mb *member
	err := errNoCapacity
	select {
	case mb = <-w.placed:
	case <-ctx.Done():
	case <-timer.C:
	}
	if mb == nil {
		mb = p.leave(w)
	}
	if ctx.Err() != nil {
		err = ctx.Err()
		if mb != nil {
			p.release(mb, w.load)
			mb = nil
		}
	}
	if mb == nil {
		p.waits.gaveUp.Observe(time.Since(start).Seconds())
		return nil, err
	}
	p.waits.placed.Observe(time.Since(start).Seconds())
	return mb, nil
}

// leave takes w out of the queue, or returns the slave it was handed as it
// stopped waiting.
func (p *pool) leave(w *waiter) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.cq != nil {
		p.waiting.remove(w)
		return nil
	}
	return <-w.placed // sent under the lock, as w left the queue
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
