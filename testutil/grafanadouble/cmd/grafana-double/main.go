// Command grafana-double runs the Grafana test double as a process, e.g. in
// a network namespace for an end-to-end test:
//
//	grafana-double -listen 10.0.0.1:3000 -key admin:admin
//
// Its first line on stdout is the bound address (host:port). It serves until
// SIGTERM or SIGINT. Besides the Grafana API it answers GET /_double/state,
// POST /_double/down and POST /_double/up (no authentication).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address to listen on (port 0: any free port)")
	key := flag.String("key", "", `key to accept: "user:password" (basic auth) or a token (Bearer)`)
	flag.Parse()
	if *key == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: grafana-double -key KEY [-listen ADDR]")
		os.Exit(2)
	}
	if err := run(*listen, *key); err != nil {
		fmt.Fprintln(os.Stderr, "grafana-double:", err)
		os.Exit(1)
	}
}

func run(listen, key string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s := grafanadouble.New(key)
	addr, err := s.Start(listen)
	if err != nil {
		return err
	}
	if _, err := fmt.Println(addr); err != nil {
		_ = s.Close()
		return err
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(shutdownCtx)
}
