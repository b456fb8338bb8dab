// Command manyslaves runs N slaves in one process on loopback, each with
// its own sockets, joining a master by unicast: the load for
// scripts/scale.sh. It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/lbproject/loadbalancer/common/cli"
	"github.com/lbproject/loadbalancer/common/logger"
	slave "github.com/lbproject/loadbalancer/slave_src"
)

func main() {
	cli.Run("manyslaves", run)
}

func run(ctx context.Context) error {
	n := flag.Int("n", 100, "how many slaves")
	master := flag.String("master", "127.0.0.1:3000", "the master's discovery address")
	flag.Parse()
	log, err := logger.New("slaves", os.Stderr, "warning")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		o := slave.NewOptions()
		o.Iface, o.Master, o.TargetDir, o.MetricsAddr, o.Workers, o.Log = "lo", *master, "", "127.0.0.1:0", 1, log
		s, err := slave.New(o)
		if err != nil {
			return fmt.Errorf("slave %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Run(ctx)
		}()
	}
	wg.Wait()
	return nil
}
