// Package monitor is the monitor daemon: it joins the master like a slave
// does, asks it for the slaves every interval, and keeps Grafana's
// datasources (one Prometheus per slave host) and dashboard in step.
package monitor

import (
	"fmt"
	"time"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/constants"
	"github.com/lbproject/loadbalancer/common/httpauth"
	"github.com/lbproject/loadbalancer/common/logger"
)

// Options configures a monitor. NewOptions gives the defaults.
type Options struct {
	// Iface, Master and DiscoveryPort find the master, as for a slave.
	Iface         string
	Master        string
	DiscoveryPort int

	// Grafana is where and how to reach Grafana.
	Grafana GrafanaOptions
	// Interval is how often the master is asked for the slaves.
	Interval time.Duration
	// JoinFirstWait and JoinMaxWait bound the join retry back-off.
	JoinFirstWait time.Duration
	JoinMaxWait   time.Duration
	// LinkTimeout bounds the wait for the master to open the link, and
	// for each answer on it.
	LinkTimeout time.Duration

	// StatusAddr is where the status page and GET /api/status are served;
	// empty: no status server. StatusHTTP optionally serves it over TLS
	// and requires a bearer token.
	StatusAddr string
	StatusHTTP httpauth.Config

	// Secret, when set, authenticates every handshake packet (HMAC); all
	// nodes of a cluster must share it.
	Secret string

	Log *logger.Logger
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		DiscoveryPort: constants.DiscoveryPort,
		Grafana: GrafanaOptions{
			URL:            DefaultGrafanaURL,
			PrometheusPort: DefaultPrometheusPort,
			DashboardUID:   DefaultDashboardUID,
			Timeout:        DefaultGrafanaTimeout,
		},
		Interval:      5 * time.Second,
		JoinFirstWait: 250 * time.Millisecond,
		JoinMaxWait:   2 * time.Second,
		LinkTimeout:   5 * time.Second,
		StatusAddr:    "127.0.0.1:4243",
		Log:           logger.Discard(),
	}
}

// maxInterval keeps the monitor well inside the master's monitor timeout
// (one minute by default), which frees the slot of a silent monitor.
const maxInterval = 30 * time.Second

// validate checks o; its errors are configuration mistakes (config.Invalid).
func (o Options) validate() error {
	if o.Interval <= 0 || o.Interval > maxInterval {
		return config.Invalid(fmt.Errorf("interval must be between 0 and %s, got %s", maxInterval, o.Interval))
	}
	if o.LinkTimeout <= 0 {
		return config.Invalid(fmt.Errorf("link timeout must be positive"))
	}
	return nil
}
