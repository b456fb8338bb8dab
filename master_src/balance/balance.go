// Package balance holds the load-balancing algorithms. An algorithm sees a
// slave only through Slave, a read-only view of its placement figures, so
// the master and the lab's simulator drive the same code: neither the
// algorithms' state nor their choices depend on who owns the slaves.
//
// The caller serialises every call to an Algorithm (the master holds its
// pool's lock), so an algorithm keeps state without locking. It tells the
// algorithm of every slave that joins (Track), of every change to a slave's
// figures (Track again), and of every slave that leaves (Untrack). With
// that an algorithm keeps the slaves in its own order and chooses in
// O(log N), not by scanning the pool.
package balance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// Figures are what the master knows of a slave for placement. The caller
// owns them: it changes them only between calls to the algorithm, and
// tracks the slave again after each change.
type Figures struct {
	// Seq is the slave's place in join order, unique within a pool.
	Seq uint64
	// Committed is the load placed on the slave and not yet seen finished;
	// MaxLoad the most it accepts.
	Committed, MaxLoad uint64
	// Factor is the CPU fraction from the slave's last load report.
	Factor float64
	// InFlight counts the tasks placed on the slave and not finished.
	InFlight int
	// Workers is the slave's worker slots from its load report (0: no
	// limit, or not reported) and Busy the workers it reported computing.
	// InFlight, the master's own count, is fresher than Busy: the slave
	// has a free worker when Workers == 0 || InFlight < Workers
	// (FreeWorker), and every algorithm prefers such a slave.
	Workers, Busy int
	// Draining is set once the slave said it is leaving: it takes no task.
	Draining bool
	// Ejected is set while the master's outlier detection keeps the slave
	// out for consecutive timeouts or failures: it takes no task until it
	// comes back.
	Ejected bool
	// MaxInFlight bounds InFlight (0: no bound): a slave holding that many
	// unfinished tasks, answered or not, takes no more.
	MaxInFlight int
	// Offers is the set of tasks the slave offers, by task index: it takes
	// no other.
	Offers TaskSet
	// WarmSince is when the slave last entered the pool, joining or back
	// from ejection (zero: it is warm). Within Choice.SlowStart of it the
	// slave gets a reduced share (Weight).
	WarmSince time.Time
	// Latency is, by task index, the peak-EWMA of the round trip per unit of
	// task load, in seconds (zero value: none observed).
	Latency []PeakEWMA
	// Idle is how many of the slave's workers are idle as far as the
	// master knows, kept current by the owner as tasks are placed and
	// finish: the master sets it to max(Workers − InFlight, 0) from its own
	// count (0 while Workers is not reported), the simulator from idle
	// notices. join_idle_queue reads it.
	Idle int
	// Rate is the tasks per second the slave completed between its last
	// two load reports and Utilisation the fraction of its workers' time
	// they were busy then (0: not reported, or no worker limit).
	// weighted_round_robin weighs slaves by Rate/Utilisation.
	Rate, Utilisation float64
	// Service is the slave's computing time per task, its queue wait
	// excluded (a result's ComputeMicros), in seconds: an EWMA over its
	// results, fed by ObserveService (0: no result yet). prequal estimates
	// a slave's latency from it.
	Service float64
}

// FreeWorker reports whether the slave has a worker free for one more task
// as far as the master counts: no worker limit, or fewer tasks in flight
// than workers.
func (f *Figures) FreeWorker() bool { return f.Workers == 0 || f.InFlight < f.Workers }

// serviceWindow is the number of results Service averages over, about.
const serviceWindow = 16

// ObserveService adds a result's computing time, in seconds, to Service.
func (f *Figures) ObserveService(seconds float64) {
	if f.Service == 0 {
		f.Service = seconds
		return
	}
	f.Service += (seconds - f.Service) / serviceWindow
}

// Load is the load figure the load-aware algorithms compare: the committed
// load the master itself counts, times the reported CPU fraction, so it
// never goes stale between reports.
func (f *Figures) Load() float64 { return float64(f.Committed) * f.Factor }

// Slave is an algorithm's view of one slave. Figures returns the same
// pointer for the slave's whole life; an algorithm only reads through it.
type Slave interface {
	Figures() *Figures
}

// Choice is one placement as an algorithm sees it: a task of type Task and
// load Load, the pool in join order, and the slaves that refused this task
// (passed over). Now and SlowStart are for slow start (Weight): the time of
// the placement, read once by the caller, and the warm-up span (0: off).
type Choice struct {
	Task      uint8
	Load      uint64
	Slaves    []Slave
	Skip      []Slave
	Now       time.Time
	SlowStart time.Duration
}

// Fits reports whether s may take the task: it offers the task, is neither
// draining nor ejected, it holds fewer than MaxInFlight tasks, the task fits
// under its max load, and it has not refused the task.
func (c *Choice) Fits(s Slave) bool {
	f := s.Figures()
	total := f.Committed + c.Load
	return f.Offers.Has(c.Task) && !f.Draining && !f.Ejected && (f.MaxInFlight == 0 || f.InFlight < f.MaxInFlight) &&
		total <= f.MaxLoad && total >= c.Load && !slices.Contains(c.Skip, s)
}

// Algorithm chooses the slave for each task.
type Algorithm interface {
	// Pick returns the slave for the task, among those c.Fits, or nil when
	// none fits.
	Pick(c *Choice) Slave
	// Track files a slave that joined or whose figures changed.
	Track(s Slave)
	// Untrack forgets a slave that left.
	Untrack(s Slave)
}

// algorithms maps each name accepted on the command line to a constructor
// taking a random seed (used by the algorithms that draw).
var algorithms = map[string]func(seed uint64) Algorithm{
	"first_available":      func(uint64) Algorithm { return &firstAvailable{byJoin: newJoinRanking()} },
	"round_robin":          func(uint64) Algorithm { return &roundRobin{byJoin: newJoinRanking()} },
	"least_load":           func(uint64) Algorithm { return &leastLoad{byLoad: newRanking()} },
	"least_difference":     func(uint64) Algorithm { return &leastDifference{byRoom: newRanking()} },
	"power_of_two":         func(seed uint64) Algorithm { return newPowerOfTwo(seed) },
	"least_latency":        func(uint64) Algorithm { return newLeastLatency() },
	"random":               func(seed uint64) Algorithm { return &random{draws: newDraws(seed)} },
	"prequal":              func(seed uint64) Algorithm { return newPrequal(seed) },
	"join_idle_queue":      func(seed uint64) Algorithm { return newJoinIdleQueue(seed) },
	"weighted_round_robin": func(uint64) Algorithm { return newWeightedRoundRobin() },
	"shortest_queue":       func(uint64) Algorithm { return newShortestQueue() },
}

// Default is the algorithm used when none is named.
const Default = "round_robin"

// Names lists the valid algorithm names, sorted.
func Names() []string {
	names := make([]string, 0, len(algorithms))
	for n := range algorithms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns a fresh instance of the named algorithm, seeded at random.
func New(name string) (Algorithm, error) { return NewSeeded(name, rand.Uint64()) }

// NewSeeded returns a fresh instance of the named algorithm whose random
// draws, if any, follow seed: a simulation with a fixed seed repeats.
func NewSeeded(name string, seed uint64) (Algorithm, error) {
	mk, ok := algorithms[name]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q: valid ones are %s", name, strings.Join(Names(), ", "))
	}
	return withSlowStart(mk(seed), seed), nil
}

// Figures is itself a Slave, for owners that need nothing else (tests, the
// simulator) and for types that embed it.
func (f *Figures) Figures() *Figures { return f }
