package master

import (
	"sync/atomic"
	"time"
)

// Outlier detection, after Envoy's: a slave whose tries time out or fail
// ejectAfter times in a row is ejected (not a candidate) for base × the
// number of its ejections, never more than maxPercent of the pool at once.
// It returns by itself, at its first load report past that time: the
// session's poll loop is the timer, so no goroutine outlives the session.
// Lost links are not counted here: a lost slave leaves the pool anyway.
// A try that timed out counts only if the slave returned no result at all
// since it was sent: a slave that is busy, not stuck, keeps answering other
// tasks, and a flood must not eject healthy slaves (its slow tries are
// hedged all the same).

// outlierRules configure the detection; after == 0 turns it off.
type outlierRules struct {
	after      int
	base       time.Duration
	maxPercent int
}

// outlierState is a slave's record, guarded by the pool's lock, but for
// consecutive, which every good result clears: atomic, so that a result
// need not take the lock to find it 0 already.
type outlierState struct {
	consecutive atomic.Int32 // tries timed out or failed since its last good result
	lastResult  time.Time    // when its last result came
	ejections   int          // times ejected since it joined
	until       time.Time    // while ejected: when it may return
}

// tryFailed counts a try of mb that failed, or that timed out after it was
// sent at sentAt (zero for a failure). When that ejects mb it returns how
// long for, else 0.
func (p *pool) tryFailed(mb *member, sentAt, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := &mb.outlier
	if !sentAt.IsZero() && o.lastResult.After(sentAt) {
		return 0 // busy, not stuck
	}
	consecutive := int(o.consecutive.Add(1))
	r := p.outliers
	if r.after == 0 || consecutive < r.after || mb.fig.Ejected || !mb.inPool ||
		(p.ejected+1)*100 > r.maxPercent*len(p.members) {
		return 0
	}
	o.consecutive.Store(0)
	o.ejections++
	d := r.base * time.Duration(o.ejections)
	o.until = now.Add(d)
	mb.fig.Ejected = true
	p.ejected++
	p.trackLocked(mb)
	return d
}

// tryAnswered records a good result of mb: its failures are no longer in a
// row.
func (p *pool) tryAnswered(mb *member) {
	if mb.outlier.consecutive.Load() != 0 {
		mb.outlier.consecutive.Store(0)
	}
}

// returnIfDueLocked ends mb's ejection once its time is over, and reports
// whether it did.
func (p *pool) returnIfDueLocked(mb *member, now time.Time) bool {
	if !mb.fig.Ejected || now.Before(mb.outlier.until) {
		return false
	}
	mb.fig.Ejected, mb.fig.WarmSince = false, now // back: slow start, if on, warms it up again
	p.ejected--
	p.trackLocked(mb)
	if p.waiting.n > 0 {
		p.notifyLocked()
	}
	return true
}

// ejectedCount is how many slaves of the pool are ejected now.
func (p *pool) ejectedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ejected
}
