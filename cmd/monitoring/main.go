// Command monitoring keeps Grafana in step with the master's slave pool:
// ./monitoring <grafana-key>.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/httpauth"
	"github.com/lbproject/loadbalancer/common/logger"
	monitor "github.com/lbproject/loadbalancer/monitoring_src"
)

func main() {
	cli.Run("monitoring", run)
}

func run(ctx context.Context) error {
	o := monitor.NewOptions()
	fs := flag.NewFlagSet("monitoring", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: monitoring [flags] <grafana-key>\n\n"+
			"grafana-key: a service-account token (sent as a Bearer token), or user:password (basic auth);\n"+
			"it may instead come from the environment variable GRAFANA_KEY, which keeps it out of process lists.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Grafana.URL, "grafana", o.Grafana.URL, "Grafana's URL")
	fs.IntVar(&o.Grafana.PrometheusPort, "prometheus-port", o.Grafana.PrometheusPort, "port of Prometheus on every slave host")
	fs.StringVar(&o.Grafana.PrometheusURL, "prometheus-url", o.Grafana.PrometheusURL, "one central Prometheus for every host (fed by the master's /sd/targets): one datasource, panels per host by label; default: one Prometheus per slave host")
	fs.StringVar(&o.Grafana.DashboardUID, "dashboard-uid", o.Grafana.DashboardUID, "uid of the dashboard the monitor owns")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "how often to ask the master for the slaves (at most 30s)")
	cli.JoinFlags(fs, &o.Iface, &o.Master, &o.DiscoveryPort)
	fs.StringVar(&o.StatusAddr, "status", o.StatusAddr, "address of the status page and GET /api/status; empty: none")
	httpauth.Flags(fs, &o.StatusHTTP)
	secret := cli.SecretFlag(fs)
	level := fs.String("log-level", "info", "log level: "+strings.Join(logger.Levels, ", "))
	args, err := cli.Parse(fs, os.Args[1:])
	if err != nil {
		return err
	}
	switch {
	case len(args) == 1:
		o.Grafana.Key = args[0]
	case len(args) == 0 && os.Getenv("GRAFANA_KEY") != "":
		o.Grafana.Key = os.Getenv("GRAFANA_KEY")
	case len(args) == 0:
		return cli.Usagef("missing the Grafana key (argument or GRAFANA_KEY); see -h")
	default:
		return cli.Usagef("one Grafana key at most, got %d arguments", len(args))
	}
	o.Secret = cli.Secret(*secret)
	o.StatusHTTP.Resolve()
	if o.Log, err = logger.New("monitoring", os.Stderr, *level); err != nil {
		return config.Invalid(err)
	}
	m, err := monitor.New(o)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}
