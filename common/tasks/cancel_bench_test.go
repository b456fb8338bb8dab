//go:build unix

package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/testutil/cputime"
)

// BenchmarkCancelGap measures how long a task at its MaxN keeps computing
// after its context is cancelled, cancelling at delays spread over its first
// 100 ms. It reports the mean and the worst gap in the process's CPU time
// (the work done after the cancel: the target is about 10 ms; the wall time
// also counts waiting for a core on a busy machine) and the worst wall gap.
//
//	go test -run '^$' -bench CancelGap -benchtime 40x ./common/tasks/
func BenchmarkCancelGap(b *testing.B) {
	for _, name := range []string{"primes", "fibonacci"} {
		task, _ := tasks.ByName(name)
		b.Run(name, func(b *testing.B) {
			var worst, sum, worstWall time.Duration
			i := 0
			for b.Loop() {
				delay := time.Duration(i*37%100) * time.Millisecond
				i++
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = task.Run(ctx, task.MaxN)
				}()
				timer := time.NewTimer(delay)
				select {
				case <-timer.C:
				case <-done: // finished before the cancel: no gap to measure
				}
				start, cpu := time.Now(), cputime.Process(b)
				cancel()
				<-done
				gap := cputime.Process(b) - cpu
				sum += gap
				worst = max(worst, gap)
				worstWall = max(worstWall, time.Since(start))
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(i)/1000, "mean-cpu-ms")
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-cpu-ms")
			b.ReportMetric(float64(worstWall.Microseconds())/1000, "worst-wall-ms")
		})
	}
}
