package balance

import (
	"math"
	"time"
)

// PeakEWMA is an exponentially weighted moving average that jumps to any
// observation above it and decays toward lower ones: quick to notice a slave
// slowing down, slow to trust that it recovered.
type PeakEWMA struct {
	Value float64
	at    time.Time
}

// EWMADecay is the time constant of the decay.
const EWMADecay = 10 * time.Second

// Observe adds observation x made at now.
func (e *PeakEWMA) Observe(x float64, now time.Time) {
	switch {
	case e.at.IsZero() || x > e.Value:
		e.Value = x
	default:
		w := math.Exp(-now.Sub(e.at).Seconds() / EWMADecay.Seconds())
		e.Value = e.Value*w + x*(1-w)
	}
	e.at = now
}
