// Command loadcheck drives a master with a bounded load and checks every
// answer against the known result; end-to-end fault tests run it inside a
// network namespace. With -flood it sends random datagrams instead.
//
//	loadcheck -base http://10.0.0.1:4242 -c 32 -duration 10s
//	loadcheck -flood 10.0.0.1:3000 -count 100000
//
// It prints one JSON summary line, then exits 1 if any answer was wrong,
// more than -max-failed requests failed, or nothing was sent, so that a
// script's "0 lost" comes from a check that can fail; 0 otherwise.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// summary is what the run saw.
type summary struct {
	Sent     int64            `json:"sent"`
	OK       int64            `json:"ok"`
	Wrong    int64            `json:"wrong"`    // 200 with a wrong body
	Failed   map[string]int64 `json:"failed"`   // by status code, or "transport"
	Examples []string         `json:"examples"` // a few failures, for the log
	Seconds  float64          `json:"seconds"`
}

// request is one request of the mix and its known answer.
type request struct {
	path, want string
}

func main() {
	base := flag.String("base", "", "the master's HTTP base URL")
	c := flag.Int("c", 32, "requests in flight")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flood := flag.String("flood", "", "HOST:PORT to send random UDP datagrams to instead")
	count := flag.Int("count", 100000, "datagrams to send with -flood")
	maxFailed := flag.Int64("max-failed", 0, "requests that may fail (a status other than 200, or no answer) before the run counts as failed")
	flag.Parse()
	var err error
	if *flood != "" {
		err = floodUDP(*flood, *count)
	} else {
		err = load(*base, *c, *duration, *maxFailed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}

func load(base string, c int, duration time.Duration, maxFailed int64) error {
	if base == "" {
		return fmt.Errorf("-base is required")
	}
	fib, _ := tasks.ByName("fibonacci")
	primes, _ := tasks.ByName("primes")
	fibAnswer, _ := fib.Run(context.Background(), 25)
	primesAnswer, _ := primes.Run(context.Background(), 20000)
	mix := []request{
		{"/fibonacci?n=25", fibAnswer + "\n"},
		{"/fibonacci?n=25", fibAnswer + "\n"},
		{"/fibonacci?n=25", fibAnswer + "\n"},
		{"/primes?n=20000", primesAnswer + "\n"},
	}
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: c, Proxy: nil},
	}
	var (
		sent, ok, wrong atomic.Int64
		mu              sync.Mutex
		failed          = map[string]int64{}
		examples        []string
	)
	fail := func(key, example string) {
		mu.Lock()
		defer mu.Unlock()
		failed[key]++
		if len(examples) < 5 {
			examples = append(examples, example)
		}
	}
	start := time.Now()
	stop := start.Add(duration)
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(stop); i++ {
				r := mix[i%len(mix)]
				sent.Add(1)
				resp, err := client.Get(base + r.path)
				if err != nil {
					fail("transport", err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					fail("transport", err.Error())
				case resp.StatusCode != http.StatusOK:
					fail(fmt.Sprint(resp.StatusCode), strings.TrimSpace(string(body)))
				case string(body) != r.want:
					wrong.Add(1)
					fail("wrong", fmt.Sprintf("%s answered %q", r.path, body))
				default:
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	s := summary{
		Sent: sent.Load(), OK: ok.Load(), Wrong: wrong.Load(), Failed: failed, Examples: examples,
		Seconds: time.Since(start).Seconds(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		return err
	}
	return s.judge(maxFailed)
}

// judge fails a run with a wrong answer, too many failed requests, or none
// sent.
func (s summary) judge(maxFailed int64) error {
	var failed int64
	for key, n := range s.Failed {
		if key != "wrong" {
			failed += n
		}
	}
	switch {
	case s.Sent == 0:
		return fmt.Errorf("no request sent")
	case s.Wrong > 0:
		return fmt.Errorf("%d of %d answers wrong: %v", s.Wrong, s.Sent, s.Examples)
	case failed > maxFailed:
		return fmt.Errorf("%d of %d requests failed (at most %d allowed): %v", failed, s.Sent, maxFailed, s.Failed)
	}
	return nil
}

// floodUDP sends count random datagrams, a third of them shaped like our
// frames (right version byte, a valid type), to target.
func floodUDP(target string, count int) error {
	conn, err := net.Dial("udp4", target)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 512)
	start := time.Now()
	sent := 0
	for i := 0; i < count; i++ {
		n := 1 + i%len(buf)
		_, _ = rand.Read(buf[:n])
		if i%3 == 0 {
			buf[0], buf[1] = 1, byte(1+i%17)
		}
		if _, err := conn.Write(buf[:n]); err == nil {
			sent++
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"datagrams": sent, "seconds": time.Since(start).Seconds()})
}
