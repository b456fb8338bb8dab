package slave

import (
	"fmt"
	"runtime"

	sigar "github.com/cloudfoundry/gosigar"
)

// loadAveragePerCore is the original design's CPU fraction: the 1-minute
// load average divided by the number of cores. It exceeds 1 on an
// overloaded host, which the metric then reflects.
func loadAveragePerCore() (float64, error) {
	var la sigar.LoadAverage
	if err := la.Get(); err != nil {
		return 0, fmt.Errorf("reading load average: %w", err)
	}
	return la.One / float64(runtime.NumCPU()), nil
}
