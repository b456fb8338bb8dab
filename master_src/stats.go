package master

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// What the status page shows that the pool does not know: a sliding window
// of answered task requests (rate and latency percentiles) and a ring of the
// last finished tasks. Both are fixed-size rings written in O(1) under a
// short lock, without allocating, so the request path stays cheap.
const (
	// statsWindow is how far back requests per second and the latency
	// percentiles look.
	statsWindow = 10 * time.Second
	// statsWindowSamples bounds the window: past this many requests in
	// statsWindow the figures cover the latest requests only.
	statsWindowSamples = 4096
	// resultKept is how much of a task's result the ring keeps; longer
	// results are cut (and flagged so).
	resultKept = 64
)

// stats is the master's memory of recent requests and tasks.
type stats struct {
	started time.Time

	wmu     sync.Mutex
	window  [statsWindowSamples]sample
	wnext   int
	wlen    int
	scratch []time.Duration // reused by windowFigures under wmu

	tmu    sync.Mutex
	tasks  []taskRecord // ring; len is the capacity
	tnext  int
	tlen   int
	tcount uint64
}

// sample is one answered task request: when it ended, as an offset from
// started (monotonic), and how long it took.
type sample struct {
	at, took time.Duration
}

// taskStatus is what became of a task, as /api/tasks names it.
type taskStatus uint8

const (
	taskOK          taskStatus = iota // a slave returned the result
	taskFailed                        // the slave reported an error, or too many slaves were lost under it (502)
	taskTimeout                       // placed, but no result within the task timeout (504)
	taskUnavailable                   // no slave had room within the queue wait, or the queue was full (503)
	taskCanceled                      // the client left before the answer
	taskError                         // anything else (500)
)

var taskStatusNames = [...]string{"ok", "failed", "timeout", "unavailable", "canceled", "error"}

func (s taskStatus) String() string { return taskStatusNames[s] }

func taskStatusOf(err error) taskStatus {
	switch {
	case err == nil:
		return taskOK
	case errors.Is(err, errTaskFailed):
		return taskFailed
	case errors.Is(err, errTaskTimeout):
		return taskTimeout
	case errors.Is(err, errNoCapacity), errors.Is(err, errQueueFull), errors.Is(err, errClientQueueFull):
		return taskUnavailable
	case errors.Is(err, context.Canceled):
		return taskCanceled
	default:
		return taskError
	}
}

// taskRecord is a finished task in the ring.
type taskRecord struct {
	id        uint64
	task      string
	n         uint64
	slave     nodeKey // zero when it never reached a slave
	start     time.Time
	took      time.Duration
	status    taskStatus
	result    string // at most resultKept bytes of it
	resultLen int
	err       string
}

func newStats(recentTasks int, now time.Time) *stats {
	return &stats{started: now, tasks: make([]taskRecord, recentTasks)}
}

// observe records an answered task request that took d.
func (s *stats) observe(now time.Time, d time.Duration) {
	at := now.Sub(s.started)
	s.wmu.Lock()
	s.window[s.wnext] = sample{at: at, took: d}
	s.wnext = (s.wnext + 1) % len(s.window)
	if s.wlen < len(s.window) {
		s.wlen++
	}
	s.wmu.Unlock()
}

// windowFigures are the request rate and latency over the window.
type windowFigures struct {
	requests int           // requests answered in the window
	span     time.Duration // the time they were counted over
	p50, p99 time.Duration // zero when requests is 0
}

func (f windowFigures) rate() float64 {
	if f.span <= 0 {
		return 0
	}
	return float64(f.requests) / f.span.Seconds()
}

// figures summarises the requests answered in the statsWindow before now.
// It sorts at most statsWindowSamples durations: fine once a second per
// open status page, and never on the request path.
func (s *stats) figures(now time.Time) windowFigures {
	nowAt := now.Sub(s.started)
	span := min(statsWindow, nowAt)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	d := s.scratch[:0]
	oldest := nowAt
	for i := 1; i <= s.wlen; i++ {
		x := s.window[(s.wnext-i+len(s.window))%len(s.window)]
		if nowAt-x.at > statsWindow {
			break // older samples only from here on
		}
		d = append(d, x.took)
		oldest = x.at
	}
	s.scratch = d
	f := windowFigures{requests: len(d), span: span}
	if len(d) == 0 {
		return f
	}
	if len(d) == len(s.window) {
		// The ring is full within the window: it covers less than the
		// window, so count over the time it does cover.
		f.span = max(nowAt-oldest, time.Millisecond)
	}
	slices.Sort(d)
	f.p50, f.p99 = percentile(d, 0.50), percentile(d, 0.99)
	return f
}

// percentile is the nearest-rank percentile of sorted, non-empty d.
func percentile(d []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(d))))
	return d[min(max(rank, 1), len(d))-1]
}

// finished records a task that runTask is done with.
func (s *stats) finished(r taskRecord, value string) {
	if len(s.tasks) == 0 {
		return
	}
	r.resultLen = len(value)
	if len(value) <= resultKept {
		r.result = value // small already: sharing it keeps nothing big alive
	} else {
		r.result = strings.Clone(value[:resultKept]) // do not pin a huge result
	}
	s.tmu.Lock()
	s.tasks[s.tnext] = r
	s.tnext = (s.tnext + 1) % len(s.tasks)
	if s.tlen < len(s.tasks) {
		s.tlen++
	}
	s.tcount++
	s.tmu.Unlock()
}

// recent returns up to limit finished tasks, newest first.
func (s *stats) recent(limit int) []taskRecord {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	n := min(limit, s.tlen)
	out := make([]taskRecord, n)
	for i := range out {
		out[i] = s.tasks[(s.tnext-1-i+len(s.tasks))%len(s.tasks)]
	}
	return out
}

// capacity is how many finished tasks the ring keeps.
func (s *stats) capacity() int { return len(s.tasks) }
