package master

import (
	"math"
	"time"
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
