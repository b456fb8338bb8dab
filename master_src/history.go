package master

import (
	"slices"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/webui"
)

// history is the status page's memory of the slaves, which placement does
// not need: each serving slave's last load reports (for its chart), and the
// slaves lost in the last Options.LostSlaveTTL with their figures as they
// were then. Its lock is taken after the pool's, never before.
type history struct {
	length  int           // load reports kept per slave
	lostFor time.Duration // how long a lost slave stays listed

	mu    sync.Mutex
	loads map[*session]*loadRing
	gone  []slaveStatus // the lost slaves, oldest first
}

// maxLostListed bounds the lost slaves listed, whatever the churn.
const maxLostListed = 1000

// loadRing is a slave's load reports: report k at samples[k%len(samples)].
type loadRing struct {
	samples []float64
	reports uint64
}

func newHistory(length int, lostFor time.Duration) *history {
	return &history{length: length, lostFor: lostFor, loads: make(map[*session]*loadRing)}
}

// joined starts the memory of a slave that entered the pool, with its first
// report; a lost record of the same slave is forgotten.
func (h *history) joined(s *session, first packets.LoadReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gone = slices.DeleteFunc(h.gone, func(v slaveStatus) bool { return v.key == s.key.nodeKey })
	r := &loadRing{samples: make([]float64, h.length)}
	h.loads[s] = r
	r.add(first.Load)
}

// reported records a load report.
func (h *history) reported(s *session, rep packets.LoadReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.loads[s]; r != nil {
		r.add(rep.Load)
	}
}

func (r *loadRing) add(load float64) {
	if len(r.samples) > 0 {
		r.samples[r.reports%uint64(len(r.samples))] = chartValue(load)
	}
	r.reports++
}

// last returns the last n reports, oldest first, and how many came in all.
func (h *history) last(s *session, n int) ([]float64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.loads[s]
	if r == nil {
		return []float64{}, 0
	}
	return r.last(n), r.reports
}

func (r *loadRing) last(n int) []float64 {
	k := min(uint64(n), uint64(len(r.samples)), r.reports)
	out := make([]float64, k)
	for i := range out {
		out[i] = r.samples[(r.reports-k+uint64(i))%uint64(len(r.samples))]
	}
	return out
}

// listed completes, in one look, the status of pool members read before
// it: each still serving gets its last n reports and one lost since the
// pool was read is left out; lost lists the lost slaves, latest first.
// Looking at both under one lock is what shows a slave being lost exactly
// once: lost records it here before the pool lets it go.
func (h *history) listed(sessions []*session, serving []slaveStatus, now time.Time, n int) (kept, lost []slaveStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept = serving[:0]
	for i, s := range sessions {
		r := h.loads[s]
		if r == nil {
			continue
		}
		st := serving[i]
		st.LoadHistory, st.Reports = r.last(n), r.reports
		kept = append(kept, st)
	}
	return kept, h.lostSlavesLocked(now, n)
}

// lost lists a slave that left the pool, as st shows it, for lostFor.
func (h *history) lost(s *session, st slaveStatus, cause string, now time.Time) {
	st.State, st.LostAt, st.LostCause, st.lostAt = stateLostName, webui.TimePtr(now), cause, now
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.loads, s)
	if h.lostFor <= 0 {
		return
	}
	h.pruneLocked(now)
	if len(h.gone) >= maxLostListed {
		h.gone = append(h.gone[:0], h.gone[1:]...)
	}
	h.gone = append(h.gone, st)
}

// lostSlavesLocked lists the slaves lost in the last lostFor, latest first, each
// with at most n load reports.
func (h *history) lostSlavesLocked(now time.Time, n int) []slaveStatus {
	h.pruneLocked(now)
	out := make([]slaveStatus, 0, len(h.gone))
	for i := len(h.gone) - 1; i >= 0; i-- {
		v := h.gone[i]
		v.LoadHistory = v.LoadHistory[max(len(v.LoadHistory)-n, 0):]
		v.LastReportAgeMS = webui.Age(v.lastReport, now)
		out = append(out, v)
	}
	return out
}

// lostCount is how many slaves are listed as lost.
func (h *history) lostCount(now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked(now)
	return len(h.gone)
}

// pruneLocked forgets the slaves lost more than lostFor ago.
func (h *history) pruneLocked(now time.Time) {
	i := 0
	for i < len(h.gone) && now.Sub(h.gone[i].lostAt) > h.lostFor {
		i++
	}
	if i > 0 {
		h.gone = append(h.gone[:0], h.gone[i:]...)
	}
}
