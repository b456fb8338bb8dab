//go:build unix

package slave

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/testutil/cputime"
)

// BenchmarkCancelRelease plays a master that gives up on a task at MaxN
// after it computed for up to 50 ms (a task that finishes first is counted,
// not measured): it measures the time from sending the
// cancel to reading TaskCancelled (the load is released before it is sent)
// and the process's CPU time in between, the work a cancel wastes. Targets
// (issue 12): load back within 100 ms, at most 100 ms of CPU wasted.
//
//	go test -run '^$' -bench CancelRelease -benchtime 30x ./slave_src/
func BenchmarkCancelRelease(b *testing.B) {
	for _, tc := range []struct {
		name     string
		patience int // ms, at most
	}{
		{"primes", 50},
		{"fibonacci", 25}, // it computes for 25-50 ms at MaxN
	} {
		task, _ := tasks.ByName(tc.name)
		b.Run(tc.name, func(b *testing.B) {
			m := connectWith(b, func(o *Options) { o.MaxLoad, o.Workers = 1<<62, 2 }, nil, time.Hour)
			_ = m.result.SetReadDeadline(time.Now().Add(10 * time.Minute))
			var waits, wasted []time.Duration
			id, finished := uint64(0), 0
			for b.Loop() {
				id++
				m.send(b, packets.TaskRequest{ID: id, Task: task.Code, N: task.MaxN})
				m.expect(b, packets.TaskAck{ID: id})
				time.Sleep(time.Duration(int(id)*7%tc.patience) * time.Millisecond) // the client's patience
				start, cpu := time.Now(), cputime.Process(b)
				m.send(b, packets.TaskCancel{ID: id})
				switch msg := m.read(b, m.resultR).(type) {
				case packets.TaskCancelled:
				case packets.TaskResult: // finished before the cancel came (fibonacci at MaxN: about 40 ms)
					finished++
					continue
				default:
					b.Fatalf("got a %s, want task %d cancelled", msg.Type(), id)
				}
				waits = append(waits, time.Since(start))
				wasted = append(wasted, cputime.Process(b)-cpu)
				if c := m.s.exec.stats().committed; c != 0 {
					b.Fatalf("committed %d after TaskCancelled", c)
				}
			}
			b.ReportMetric(float64(finished), "finished-first")
			reportQuantiles(b, "release", waits, 0.5, 1)
			reportQuantiles(b, "cpu", wasted, 0.5, 1)
		})
	}
}

// BenchmarkCheapLaneBusyWorkers sends cheap tasks (fibonacci n=90) one at a
// time while heavy tasks keep both workers busy and two more wait for them,
// and reports the round trip's quantiles. Target (issue 12): p99 ≤ 50 ms.
//
//	go test -run '^$' -bench CheapLane -benchtime 300x ./slave_src/
func BenchmarkCheapLaneBusyWorkers(b *testing.B) {
	m := connectWith(b, func(o *Options) { o.MaxLoad, o.Workers = 1<<62, 2 }, nil, time.Hour)
	_ = m.result.SetReadDeadline(time.Now().Add(10 * time.Minute))
	const heavies = 4
	for id := uint64(1); id <= heavies; id++ {
		m.send(b, heavy(id))
		m.expect(b, packets.TaskAck{ID: id})
	}
	testWaitFor(b, "the workers busy", func() bool { return m.s.exec.stats().busy == 2 })
	var trips []time.Duration
	id := uint64(heavies)
	for b.Loop() {
		id++
		start := time.Now()
		m.send(b, packets.TaskRequest{ID: id, Task: 1, N: 90})
		m.expect(b, packets.TaskAck{ID: id})
		m.expectResult(b, id, "2880067194370816120")
		trips = append(trips, time.Since(start))
	}
	if st := m.s.exec.stats(); st.busy != 2 || st.queued != heavies-2 {
		b.Fatalf("the heavy tasks ended during the run (%+v): run fewer cheap ones", st)
	}
	for id := uint64(1); id <= heavies; id++ {
		m.send(b, packets.TaskCancel{ID: id})
	}
	reportQuantiles(b, "trip", trips, 0.5, 0.99, 1)
}

// reportQuantiles reports the q quantiles of ds, in ms, named what-pQ.
func reportQuantiles(b *testing.B, what string, ds []time.Duration, qs ...float64) {
	slices.Sort(ds)
	for _, q := range qs {
		d := ds[min(int(q*float64(len(ds))), len(ds)-1)]
		b.ReportMetric(float64(d.Microseconds())/1000, fmt.Sprintf("%s-p%g-ms", what, q*100))
	}
}
