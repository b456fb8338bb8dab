// Command directserver computes the tasks itself over plain HTTP, with no
// balancer: the baseline that scripts/compare-nginx.sh runs alone and as
// nginx's backends. It answers like the master: GET /fibonacci?n=N and
// GET /primes?n=N, the decimal result and a newline.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
	master "github.com/lbproject/loadbalancer/master_src"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{task}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := tasks.ByName(r.PathValue("task"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		n, err := master.ParseN(r.URL.Query(), t)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		result, err := t.Run(r.Context(), n)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, result)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "directserver:", err)
		os.Exit(1)
	}
}
