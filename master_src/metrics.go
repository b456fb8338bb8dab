package master

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the master's Prometheus metrics, on its own registry.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	redispatched prometheus.Counter
	// handshakeDropped counts discovery packets dropped, by reason.
	handshakeDropped *prometheus.CounterVec
}

// tryCounts are the master's totals of what dispatch did beyond one try per
// task, for /api/status and the metrics (which read them, never count twice).
type tryCounts struct {
	cancelled atomic.Uint64 // TaskCancels sent
	hedged    atomic.Uint64 // tasks also sent to a second slave
	ejections atomic.Uint64 // slaves ejected by outlier detection
}

func newMetrics(p *pool, c *tryCounts) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "master_requests_total", Help: "Task requests answered, by task and HTTP status code.",
		}, []string{"task", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "master_request_duration_seconds",
			Help:    "Time from a task request's arrival to its answer, by task.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"task"}),
		handshakeDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "master_handshake_packets_dropped_total",
			Help: "Discovery packets dropped: rate_limited (per source IP), malformed, bad_mac, stale or replayed.",
		}, []string{"reason"}),
		redispatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "master_tasks_redispatched_total", Help: "Tasks sent to another slave after the slave running them was lost.",
		}),
	}
	slaves := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "master_slaves", Help: "Slaves in the pool.",
	}, func() float64 { n, _ := p.size(); return float64(n) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "master_queue_length", Help: "Task requests waiting for a slave with room.",
	}, func() float64 { _, q := p.size(); return float64(q) })
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	ejected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "master_slaves_ejected", Help: "Slaves in the pool ejected now by outlier detection (they take no task).",
	}, func() float64 { return float64(p.ejectedCount()) })
	m.registry.MustRegister(m.requests, m.latency, m.redispatched, m.handshakeDropped, slaves, queued, ejected, p.waits.vec,
		counter("master_tasks_cancelled_total", "Cancels sent to slaves for tasks in flight: the client left, the task timed out, or another slave's answer won.", &c.cancelled),
		counter("master_tasks_hedged_total", "Tasks also sent to a second slave after the first passed its per-try timeout.", &c.hedged),
		counter("master_ejections_total", "Slaves ejected by outlier detection for tries that timed out or failed in a row.", &c.ejections),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
