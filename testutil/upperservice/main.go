// Command upperservice is the small local HTTP service behind an `http=` task
// in the end-to-end tests: POST /upper answers the body in upper case, POST
// /fail answers 500 with a two-line message (a failing service), and GET /ok
// answers ok so a test can wait until it listens.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// maxBody bounds what the service reads: the slave never sends more than the
// frame cap.
const maxBody = 1 << 20

func main() {
	listen := flag.String("listen", "127.0.0.1:8089", "address to serve on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upper", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.ToUpper(body))
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "service says no\nsecond line", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "upperservice:", err)
		os.Exit(1)
	}
}
