// Command queueload runs a closed loop of many clients against a master on
// loopback, each client with its own source address (127.1.X.Y, any
// 127/8 address works on Linux loopback) and its own keep-alive connection,
// one request in flight each: how the master's wait queue sees 1,000
// separate users. It prints one JSON line: requests per second, answers by
// status, and latency percentiles.
//
//	queueload -url 'http://127.0.0.1:4242/fibonacci?n=1000' -clients 1000 -duration 10s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

type summary struct {
	Clients    int            `json:"clients"`
	Seconds    float64        `json:"seconds"`
	Answered   int            `json:"answered"`
	PerSecond  float64        `json:"req_per_s"`
	ByStatus   map[string]int `json:"by_status"` // "200", "503", ..., "transport"
	Pct503     float64        `json:"pct_503"`
	P50MS      float64        `json:"p50_ms"`
	P99MS      float64        `json:"p99_ms"`
	MaxMS      float64        `json:"max_ms"`
	Transports []string       `json:"transport_errors,omitempty"` // a few, for the log
}

func main() {
	url := flag.String("url", "", "task URL on a loopback master")
	clients := flag.Int("clients", 4, "clients, each with its own source address and one request in flight")
	duration := flag.Duration("duration", 10*time.Second, "how long to send (requests in flight then finish)")
	flag.Parse()
	if err := run(*url, *clients, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "queueload:", err)
		os.Exit(1)
	}
}

// maxClients keeps the source addresses inside 127.1.0.0/16.
const maxClients = 250 * 250

func run(url string, clients int, duration time.Duration) error {
	switch {
	case url == "":
		return errors.New("-url is required")
	case clients < 1 || clients > maxClients:
		return fmt.Errorf("-clients must be from 1 to %d", maxClients)
	case duration <= 0:
		return errors.New("-duration must be positive")
	}
	if err := loopbackOnly(url); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	results := make([][]sample, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = loop(ctx, url, sourceOf(i))
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(summarise(results, clients, time.Since(start)))
}

// loopbackOnly refuses a URL whose host is not a loopback address.
func loopbackOnly(url string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(req.URL.Host)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("%s: the host must be a loopback IP:PORT", url)
	}
	return nil
}

// sourceOf is client i's source address.
func sourceOf(i int) net.IP { return net.IPv4(127, 1, byte(i/250), byte(i%250+1)) }

type sample struct {
	status  string
	latency time.Duration
	err     string
}

// loop sends requests one after the other from src until ctx ends; the
// request in flight then finishes (it is not cut off, so no 499s).
func loop(ctx context.Context, url string, src net.IP) []sample {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	var out []sample
	for ctx.Err() == nil {
		t0 := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			out = append(out, sample{status: "transport", latency: time.Since(t0), err: err.Error()})
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, sample{status: strconv.Itoa(resp.StatusCode), latency: time.Since(t0)})
	}
	return out
}

func summarise(results [][]sample, clients int, took time.Duration) summary {
	s := summary{Clients: clients, Seconds: took.Seconds(), ByStatus: map[string]int{}}
	var lat []time.Duration
	for _, rs := range results {
		for _, r := range rs {
			s.ByStatus[r.status]++
			if r.status == "200" {
				lat = append(lat, r.latency)
			}
			if r.err != "" && len(s.Transports) < 3 {
				s.Transports = append(s.Transports, r.err)
			}
			s.Answered++
		}
	}
	if s.Answered > 0 {
		s.PerSecond = float64(s.ByStatus["200"]) / s.Seconds
		s.Pct503 = 100 * float64(s.ByStatus["503"]) / float64(s.Answered)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		s.P50MS, s.P99MS, s.MaxMS = ms(0.5), ms(0.99), ms(1)
	}
	return s
}
