package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/master_src/balance"
)

// SimOptions configures a simulation (bench -sim): Slaves FIFO queues, each
// with Workers workers at a speed from Speeds (cycled over the slaves), fed
// by Poisson arrivals at Load (ρ) times the pool's capacity, service times
// from Service, load reports every ReportEvery, Tasks tasks per algorithm.
type SimOptions struct {
	Slaves      int
	Workers     int
	Speeds      []float64
	Load        float64
	Service     Service
	ReportEvery time.Duration
	Tasks       int
	Seed        uint64
	Algorithms  []string
	// OwnCounts is the master's own count of the tasks it placed and has
	// not seen finish (Committed and InFlight, raised at placement and
	// lowered at the result, as master_src/pool.go keeps them). Off, the
	// master knows them only from the load reports, as stale as they are.
	OwnCounts bool
	// FreeWorkers tells the algorithms each slave's worker slots, so every
	// one prefers a slave with a free worker, as the real master does once
	// slaves report them. Off (the default), the algorithms are the
	// textbook rules the theory checks describe.
	FreeWorkers bool
}

// NewSimOptions returns the defaults: 1,000 one-worker slaves of speeds
// 4:2:1:1, ρ = 0.9, exponential service of mean 50 ms, reports every
// second (the master's default poll interval), 1,000,000 tasks.
func NewSimOptions() SimOptions {
	return SimOptions{
		Slaves: 1000, Workers: 1, Speeds: []float64{4, 2, 1, 1}, Load: 0.9,
		Service: Service{Kind: "exp", Mean: 50 * time.Millisecond}, ReportEvery: time.Second,
		Tasks: 1_000_000, Seed: 1, Algorithms: balance.Names(), OwnCounts: true,
	}
}

// maxSimSlaves bounds -slaves in the simulator.
const maxSimSlaves = 10_000

func (o SimOptions) validate() error {
	switch {
	case o.Slaves < 1 || o.Slaves > maxSimSlaves:
		return fmt.Errorf("-slaves %d: the simulator takes 1 to %d", o.Slaves, maxSimSlaves)
	case o.Workers < 1:
		return errors.New("-workers must be at least 1")
	case len(o.Speeds) == 0:
		return errors.New("no -speeds")
	case !(o.Load > 0 && o.Load < 1):
		return fmt.Errorf("-load %g: ρ must be above 0 and below 1 (the queues grow without bound at 1)", o.Load)
	case o.ReportEvery <= 0:
		return errors.New("-report-every must be positive")
	case o.Tasks < 10:
		return errors.New("-tasks must be at least 10")
	case len(o.Algorithms) == 0:
		return errors.New("no algorithm to simulate")
	}
	for _, s := range o.Speeds {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("speed %g: speeds must be positive", s)
		}
	}
	return nil
}

// ParseSpeeds reads -speeds: positive numbers separated by commas.
func ParseSpeeds(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("speed %q must be a positive number", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no speed given")
	}
	return out, nil
}

// simTask is a task as the slave holds it.
type simTask struct {
	id      int
	arrival float64 // seconds since the start
	service float64 // at this slave's speed
}

// simSlave is a slave of the simulation: the master's figures of it (what
// the algorithms see) and its real state.
type simSlave struct {
	fig     balance.Figures
	speed   float64
	workers int
	busy    int       // workers computing
	queue   []simTask // waiting, FIFO
	// Since the last report: tasks completed, worker-seconds busy, and the
	// time busy last changed (to integrate it).
	completed  int
	busyTime   float64
	changed    float64
	busyTotal  float64 // worker-seconds over the whole run
	placed     int
	tasksTotal int // tasks held: busy + queued
}

func (s *simSlave) Figures() *balance.Figures { return &s.fig }

// held is the number of tasks the slave holds, computing or waiting.
func (s *simSlave) held() int { return s.busy + len(s.queue) }

// account integrates busy time up to now.
func (s *simSlave) account(now float64) {
	d := float64(s.busy) * (now - s.changed)
	s.busyTime += d
	s.busyTotal += d
	s.changed = now
}

// simEvent is a task finishing on a slave.
type simEvent struct {
	at    float64
	slave int
	task  simTask
}

// simTaskCode is the task type the simulated tasks have for the
// algorithms; every task has load 1: the master knows how many tasks a
// slave holds, not how long each takes.
const simTaskCode, simTaskLoad = 0, 1

// simEpoch anchors the simulated clock for the latency EWMAs.
var simEpoch = time.Unix(1_800_000_000, 0)

// maxTail is how many queue-length levels the simulation tracks.
const maxTail = 12

// SimResult is one algorithm's simulated figures. Times in system are in
// units of the mean service time (at speed 1) and, with the suffix _s, in
// seconds. The first tenth of the tasks warms the queues up and is not
// counted.
type SimResult struct {
	AlgorithmTimes
	// QueueTail[i] is the time-average fraction of slaves holding at least
	// i+1 tasks (as Poisson arrivals see it).
	QueueTail []float64 `json:"queue_tail"`
	// ShareBySpeed is the fraction of the tasks placed on the slaves of
	// each speed.
	ShareBySpeed map[string]float64 `json:"share_by_speed"`
	// SimulatedS is the simulated time.
	SimulatedS float64 `json:"simulated_s"`
}

// AlgorithmTimes is an algorithm's times in system over Tasks tasks, and
// the imbalance of the slaves' busy time (max/mean): the figures the
// simulator and the emulated cluster (-local -emulate) both report.
type AlgorithmTimes struct {
	Algorithm string  `json:"algorithm"`
	Tasks     int     `json:"tasks"`
	Imbalance float64 `json:"imbalance"`
	TimeSummary
}

// TimeSummary is a time in system in units of the mean service time and in
// seconds.
type TimeSummary struct {
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	MeanS float64 `json:"mean_s"`
	P50S  float64 `json:"p50_s"`
	P99S  float64 `json:"p99_s"`
	P999S float64 `json:"p999_s"`
}

// summarizeTimes sorts times (seconds) and summarises them in units of mean.
func summarizeTimes(times []float64, mean float64) TimeSummary {
	slices.Sort(times)
	sum := 0.0
	for _, v := range times {
		sum += v
	}
	t := TimeSummary{P50S: Percentile(times, 50), P99S: Percentile(times, 99), P999S: Percentile(times, 99.9)}
	if len(times) > 0 {
		t.MeanS = sum / float64(len(times))
	}
	t.Mean, t.P50, t.P99, t.P999 = t.MeanS/mean, t.P50S/mean, t.P99S/mean, t.P999S/mean
	return t
}

// Simulate runs one algorithm over the simulated pool.
func Simulate(o SimOptions, algorithm string) (SimResult, error) {
	if err := o.validate(); err != nil {
		return SimResult{}, err
	}
	algo, err := balance.NewSeeded(algorithm, o.Seed)
	if err != nil {
		return SimResult{}, err
	}
	sm := newSim(o, algo)
	sm.run()
	return sm.result(algorithm), nil
}

// sim is one simulation's state.
type sim struct {
	o      SimOptions
	algo   balance.Algorithm
	rng    *rand.Rand
	slaves []*simSlave
	views  []balance.Slave
	events eventHeap
	choice balance.Choice

	now      float64
	times    []float64 // time in system of the counted tasks
	warmup   int
	tail     [maxTail + 1]int // tail[i]: slaves holding at least i tasks
	tailSum  [maxTail + 1]float64
	tailSeen int
}

func newSim(o SimOptions, algo balance.Algorithm) *sim {
	sm := &sim{o: o, algo: algo, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), warmup: o.Tasks / 10}
	sm.times = make([]float64, 0, o.Tasks-sm.warmup)
	for i := range o.Slaves {
		s := &simSlave{speed: o.Speeds[i%len(o.Speeds)], workers: o.Workers}
		s.fig.Seq = uint64(i + 1)
		s.fig.MaxLoad = math.MaxUint64 / 2 // no cap: the queues hold what comes
		s.fig.Factor = 1 / float64(o.Workers)
		s.fig.Latency = make([]balance.PeakEWMA, simTaskCode+1)
		s.fig.Offers.Add(simTaskCode)
		s.fig.Idle = o.Workers // the slave's first report says all are idle
		s.fig.Offers.Add(simTaskCode)
		if o.FreeWorkers {
			s.fig.Workers = o.Workers
		}
		sm.slaves = append(sm.slaves, s)
		sm.views = append(sm.views, s)
		algo.Track(s)
	}
	return sm
}

// capacity is the tasks per second the pool completes fully busy.
func (sm *sim) capacity() float64 {
	c := 0.0
	for _, s := range sm.slaves {
		c += float64(s.workers) * s.speed
	}
	return c / sm.o.Service.Mean.Seconds()
}

func (sm *sim) run() {
	rate := sm.o.Load * sm.capacity()
	period := sm.o.ReportEvery.Seconds()
	nextArrival := sm.rng.ExpFloat64() / rate
	nextReport := period
	for placed := 0; placed < sm.o.Tasks || len(sm.events) > 0; {
		finish := math.Inf(1)
		if len(sm.events) > 0 {
			finish = sm.events[0].at
		}
		arrival := math.Inf(1)
		if placed < sm.o.Tasks {
			arrival = nextArrival
		}
		switch {
		case arrival <= finish && arrival <= nextReport:
			sm.now = arrival
			sm.arrive(placed)
			placed++
			nextArrival += sm.rng.ExpFloat64() / rate
		case finish <= nextReport:
			ev := sm.events.pop()
			sm.now = ev.at
			sm.finish(ev)
		default:
			sm.now = nextReport
			sm.report()
			nextReport += period
		}
	}
}

// arrive places task id with the algorithm.
func (sm *sim) arrive(id int) {
	if id >= sm.warmup {
		for i := 1; i <= maxTail; i++ {
			sm.tailSum[i] += float64(sm.tail[i]) / float64(len(sm.slaves))
		}
		sm.tailSeen++
	}
	sm.choice = balance.Choice{Task: simTaskCode, Load: simTaskLoad, Slaves: sm.views}
	s := sm.algo.Pick(&sm.choice).(*simSlave) // every slave has room: Pick finds one
	s.placed++
	if sm.o.OwnCounts {
		s.fig.Committed += simTaskLoad
		s.fig.InFlight++
	}
	if s.fig.Idle > 0 {
		s.fig.Idle-- // the idle notice is used up
	}
	sm.algo.Track(s)
	t := simTask{id: id, arrival: sm.now, service: sm.o.Service.Draw(sm.rng) / s.speed}
	sm.hold(s, +1)
	if s.busy < s.workers {
		sm.start(s, t)
	} else {
		s.queue = append(s.queue, t)
	}
}

// hold counts a task more (+1) or less (-1) held by s, for the queue tail.
func (sm *sim) hold(s *simSlave, d int) {
	if d > 0 {
		s.tasksTotal++
		if s.tasksTotal <= maxTail {
			sm.tail[s.tasksTotal]++
		}
		return
	}
	if s.tasksTotal <= maxTail {
		sm.tail[s.tasksTotal]--
	}
	s.tasksTotal--
}

func (sm *sim) start(s *simSlave, t simTask) {
	s.account(sm.now)
	s.busy++
	sm.events.push(simEvent{at: sm.now + t.service, slave: int(s.fig.Seq - 1), task: t})
}

// finish ends a task: the slave takes its next one, and the master learns
// of the result: its own counts, the round trip, the idle workers.
func (sm *sim) finish(ev simEvent) {
	s := sm.slaves[ev.slave]
	s.account(sm.now)
	s.busy--
	s.completed++
	sm.hold(s, -1)
	if len(s.queue) > 0 {
		next := s.queue[0]
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = s.queue[:0:0] // let the drained backing array go
		}
		sm.start(s, next)
	}
	took := sm.now - ev.task.arrival
	if ev.task.id >= sm.warmup {
		sm.times = append(sm.times, took)
	}
	if sm.o.OwnCounts {
		s.fig.Committed -= simTaskLoad
		s.fig.InFlight--
	}
	s.fig.ObserveService(ev.task.service)
	s.fig.Latency[simTaskCode].Observe(took/simTaskLoad, simEpoch.Add(time.Duration(sm.now*float64(time.Second))))
	s.fig.Idle = s.workers - s.busy
	sm.algo.Track(s)
}

// report is every slave's load report: the master's figures of what the
// slave holds (when it keeps no count of its own), its completion rate and
// utilisation since the last report.
func (sm *sim) report() {
	period := sm.o.ReportEvery.Seconds()
	for _, s := range sm.slaves {
		s.account(sm.now)
		if !sm.o.OwnCounts {
			s.fig.Committed, s.fig.InFlight = uint64(s.held())*simTaskLoad, s.held()
		}
		s.fig.Rate = float64(s.completed) / period
		s.fig.Utilisation = s.busyTime / (period * float64(s.workers))
		s.completed, s.busyTime = 0, 0
		sm.algo.Track(s)
	}
}

func (sm *sim) result(algorithm string) SimResult {
	mean := sm.o.Service.Mean.Seconds()
	r := SimResult{AlgorithmTimes: AlgorithmTimes{Algorithm: algorithm, Tasks: len(sm.times), TimeSummary: summarizeTimes(sm.times, mean)},
		ShareBySpeed: map[string]float64{}, SimulatedS: sm.now}
	busy := make([]float64, len(sm.slaves))
	total := 0
	for i, s := range sm.slaves {
		busy[i] = s.busyTotal
		r.ShareBySpeed[strconv.FormatFloat(s.speed, 'g', -1, 64)] += float64(s.placed)
		total += s.placed
	}
	for k := range r.ShareBySpeed {
		r.ShareBySpeed[k] /= float64(total)
	}
	r.Imbalance = Imbalance(busy)
	for i := 1; i <= maxTail; i++ {
		r.QueueTail = append(r.QueueTail, sm.tailSum[i]/float64(max(sm.tailSeen, 1)))
	}
	return r
}

// eventHeap is a binary min-heap of events by time.
type eventHeap []simEvent

func (h *eventHeap) push(e simEvent) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *eventHeap) pop() simEvent {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(a) && a[l].at < a[small].at {
			small = l
		}
		if r := l + 1; r < len(a) && a[r].at < a[small].at {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
