package master

import (
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

func newMetrics(p *pool) *metrics {
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
	m.registry.MustRegister(m.requests, m.latency, m.redispatched, m.handshakeDropped, slaves, queued, p.waits.vec,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
