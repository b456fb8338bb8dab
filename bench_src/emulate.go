package bench

import (
	"fmt"
	"runtime"
	"strconv"
)

// capacity is the tasks per second a pool of specs completes fully busy on
// emulated work of mean service time meanS: Σ workers × speed / meanS. A
// slave's workers default to the host's cores and its speed to 1, as the
// slave's own defaults do.
func capacity(specs []SlaveSpec, meanS float64) (float64, error) {
	total := 0.0
	for i, s := range specs {
		workers := runtime.NumCPU()
		if s.Workers != nil {
			workers = *s.Workers
		}
		if workers == 0 {
			return 0, fmt.Errorf("slave %d has workers=0 (no cap): its capacity is unbounded, give it a number of workers for -load", i+1)
		}
		speed := 1.0
		for _, kv := range s.Extra {
			if kv.Key == "speed" {
				v, err := strconv.ParseFloat(kv.Value, 64)
				if err != nil || !(v > 0) {
					return 0, fmt.Errorf("slave %d: speed=%q must be a positive number", i+1, kv.Value)
				}
				speed = v
			}
		}
		total += float64(workers) * speed
	}
	return total / meanS, nil
}

// emulatedTimes is a result's times in system in units of the emulated
// mean service time, with the fields the simulator reports.
func emulatedTimes(res Result, meanS float64) AlgorithmTimes {
	secs := make([]float64, len(res.latencies))
	for i, ms := range res.latencies {
		secs[i] = ms / 1000
	}
	return AlgorithmTimes{Algorithm: res.Algorithm, Tasks: res.Completed, Imbalance: res.Imbalance,
		TimeSummary: summarizeTimes(secs, meanS)}
}
