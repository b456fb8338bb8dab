package slave

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the slave's Prometheus metrics, on its own registry. The first
// three keep the original design's names, which its dashboards use.
type metrics struct {
	registry  *prometheus.Registry
	requested prometheus.Counter
	completed prometheus.Counter
	refused   prometheus.Counter
	cancelled prometheus.Counter
	load      prometheus.Gauge
	maxLoad   prometheus.Gauge
	committed prometheus.Gauge
	duration  *prometheus.HistogramVec
}

func newMetrics(maxLoad uint64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasks_requested", Help: "Tasks the master asked this slave to run, accepted or not.",
		}),
		completed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasks_completed", Help: "Tasks this slave finished and returned a result for.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slave_tasks_refused_total", Help: "Tasks refused (NAK) because they would exceed the max load or were invalid.",
		}),
		cancelled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slave_tasks_cancelled_total", Help: "Tasks the master cancelled that were stopped (running) or dropped (waiting for a worker) before their result.",
		}),
		load: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "current_load", Help: "Load metric last reported to the master: committed load times CPU fraction.",
		}),
		maxLoad: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "max_load", Help: "Most committed load this slave accepts.",
		}),
		committed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slave_committed_load", Help: "Sum of the loads of the tasks this slave holds.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slave_task_duration_seconds",
			Help:    "Time to compute a task, by task type.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"task"}),
	}
	m.maxLoad.Set(float64(maxLoad))
	m.registry.MustRegister(m.requested, m.completed, m.refused, m.cancelled, m.load, m.maxLoad, m.committed, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
