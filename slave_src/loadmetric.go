package slave

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	sigar "github.com/cloudfoundry/gosigar"
)

// A load metric is the factor by which the slave multiplies its committed
// load to get the load it reports; the master applies the same factor to
// the load it has assigned since, to keep its view fresh between polls.
// -load-metric chooses one.
var loadMetrics = map[string]func(workers int) func() (float64, error){
	// loadavg is the original design's: the 1-minute load average per core.
	"loadavg": func(int) func() (float64, error) { return loadAveragePerCore },
	// cpu is the fraction of CPU time busy since the previous poll, from
	// the kernel's CPU counters: it follows load changes within a poll
	// interval instead of a minute.
	"cpu": func(int) func() (float64, error) { return (&cpuBusy{}).fraction },
	// workers spreads the committed load over the slave's workers: a host
	// with twice the workers looks half as loaded for the same work.
	"workers": func(workers int) func() (float64, error) {
		f := 1 / float64(max(workers, 1))
		return func() (float64, error) { return f, nil }
	},
}

// DefaultLoadMetric is the original design's metric.
const DefaultLoadMetric = "loadavg"

// LoadMetricNames lists the valid -load-metric values.
func LoadMetricNames() []string {
	names := make([]string, 0, len(loadMetrics))
	for n := range loadMetrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func newLoadMetric(name string, workers int) (func() (float64, error), error) {
	mk, ok := loadMetrics[name]
	if !ok {
		return nil, fmt.Errorf("unknown load metric %q: valid ones are %s", name, strings.Join(LoadMetricNames(), ", "))
	}
	return mk(workers), nil
}

// loadAveragePerCore is the 1-minute load average divided by the number of
// cores. It exceeds 1 on an overloaded host, which the metric then reflects.
func loadAveragePerCore() (float64, error) {
	var la sigar.LoadAverage
	if err := la.Get(); err != nil {
		return 0, fmt.Errorf("reading load average: %w", err)
	}
	return la.One / float64(runtime.NumCPU()), nil
}

// cpuBusy measures the busy fraction of CPU time between two calls.
type cpuBusy struct {
	mu   sync.Mutex
	last sigar.Cpu
}

func (c *cpuBusy) fraction() (float64, error) {
	var now sigar.Cpu
	if err := now.Get(); err != nil {
		return 0, fmt.Errorf("reading CPU counters: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.last
	c.last = now
	return busyBetween(prev, now), nil
}

// busyBetween is the fraction of CPU time not idle or waiting for I/O from
// a to b (since boot when a is zero).
func busyBetween(a, b sigar.Cpu) float64 {
	total := b.Total() - a.Total()
	if b.Total() < a.Total() || total == 0 {
		return 0
	}
	idle := (b.Idle + b.Wait) - (a.Idle + a.Wait)
	if idle > total {
		return 0
	}
	return float64(total-idle) / float64(total)
}
