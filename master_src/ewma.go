package master

import (
	"math"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// peakEWMA is an exponentially weighted moving average that jumps to any
// observation above it and decays toward lower ones: quick to notice a slave
// slowing down, slow to trust that it recovered.
type peakEWMA struct {
	value float64
	at    time.Time
}

// ewmaDecay is the time constant of the decay.
const ewmaDecay = 10 * time.Second

func (e *peakEWMA) observe(x float64, now time.Time) {
	switch {
	case e.at.IsZero() || x > e.value:
		e.value = x
	default:
		w := math.Exp(-now.Sub(e.at).Seconds() / ewmaDecay.Seconds())
		e.value = e.value*w + x*(1-w)
	}
	e.at = now
}

// taskCodes sizes the per-task-type latencies: every registered code is an
// index.
var taskCodes = func() int {
	n := 0
	for _, t := range tasks.All() {
		n = max(n, int(t.Code)+1)
	}
	return n
}()

// registeredCodes lists the codes of the registered tasks.
var registeredCodes = func() []int {
	var codes []int
	for _, t := range tasks.All() {
		codes = append(codes, int(t.Code))
	}
	return codes
}()
