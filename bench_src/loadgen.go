package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	master "github.com/lbproject/loadbalancer/master_src"
)

// Sample is the outcome of one request.
type Sample struct {
	Item Item
	// Due is when the request was due, as an offset from the start of the
	// run: its scheduled time in open loop (so time spent waiting behind
	// earlier requests counts: no coordinated omission), its send time in
	// closed loop.
	Due time.Duration
	// End is when the answer was complete, or the request given up.
	End time.Duration
	// Err is "" for a 200 with the right answer, otherwise the error class:
	// the HTTP status ("503"), "dropped" (open loop: too many outstanding),
	// "timeout", "conn", "bad-answer" or "wrong-answer".
	Err string
	// Slave and SlaveMS come from the JSON answer: the slave that computed
	// it and its compute_ms (the time it computed, not the time the task
	// waited in queues).
	Slave   string
	SlaveMS float64
}

// Latency is the time from due to answered.
func (s Sample) Latency() time.Duration { return s.End - s.Due }

// Error classes that are not HTTP statuses.
const (
	errDropped     = "dropped"
	errTimeout     = "timeout"
	errConn        = "conn"
	errCanceled    = "canceled"
	errBadAnswer   = "bad-answer"
	errWrongAnswer = "wrong-answer"
)

// maxBody bounds an answer: the largest Fibonacci result is 209 kB.
const maxBody = 4 << 20

// Pace is how a run sends its requests and for how long: the part of the
// lab's options that each run against a master takes as it is.
type Pace struct {
	// Concurrency > 0 runs a closed loop with that many requests in flight;
	// otherwise Rate > 0 runs an open loop with Poisson arrivals, at most
	// MaxOutstanding requests in flight (beyond: dropped, counted as errors).
	Concurrency    int
	Rate           float64
	MaxOutstanding int
	// The run sends for Duration and/or Requests requests, whichever ends
	// first (0: no bound of that kind; at least one is set).
	Duration time.Duration
	Requests int
	// Seed makes the request sequence and the arrival times reproducible.
	Seed uint64
	// Timeout bounds each request.
	Timeout time.Duration
}

// LoadOptions configures one run of the load generator against one master.
type LoadOptions struct {
	// BaseURL is the master, e.g. http://127.0.0.1:4242.
	BaseURL  string
	Workload *Workload
	Pace
	// Answers are the right results, by Item with zero Weight; nil skips
	// the check.
	Answers map[Item]string
}

// Counters are read by the progress bar while a run goes.
type Counters struct {
	Done   atomic.Int64 // answered, right or wrong
	Failed atomic.Int64 // of which not a right answer
}

// RunResult is what one run of the generator measured.
type RunResult struct {
	Samples []Sample
	// Elapsed runs from the start to the last answer (at least the sending
	// window).
	Elapsed time.Duration
}

// generator runs one load.
type generator struct {
	o      LoadOptions
	client *http.Client
	cnt    *Counters
	start  time.Time

	mu      sync.Mutex
	samples []Sample
	rng     *rand.Rand // request picks, under mu
	picked  int        // requests picked so far, under mu
}

// Generate runs the load described by o with client and returns every
// request's outcome. It returns early, with ctx's error, when ctx ends.
func Generate(ctx context.Context, client *http.Client, o LoadOptions, cnt *Counters) (RunResult, error) {
	if cnt == nil {
		cnt = &Counters{}
	}
	g := &generator{o: o, client: client, cnt: cnt, rng: rand.New(rand.NewPCG(o.Seed, 1))}
	g.start = time.Now()
	if o.Concurrency > 0 {
		g.closedLoop(ctx)
	} else {
		g.openLoop(ctx)
	}
	res := RunResult{Samples: g.samples, Elapsed: time.Since(g.start)}
	if o.Duration > 0 && res.Elapsed < o.Duration && ctx.Err() == nil {
		res.Elapsed = o.Duration
	}
	return res, ctx.Err()
}

// take picks the next request, or reports that the count is reached.
func (g *generator) take() (Item, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.o.Requests > 0 && g.picked >= g.o.Requests {
		return Item{}, false
	}
	g.picked++
	return g.o.Workload.Pick(g.rng), true
}

func (g *generator) record(s Sample) {
	g.cnt.Done.Add(1)
	if s.Err != "" {
		g.cnt.Failed.Add(1)
	}
	g.mu.Lock()
	g.samples = append(g.samples, s)
	g.mu.Unlock()
}

func (g *generator) now() time.Duration { return time.Since(g.start) }

func (g *generator) over(t time.Duration) bool { return g.o.Duration > 0 && t >= g.o.Duration }

// closedLoop keeps Concurrency requests in flight: each worker sends its
// next request as soon as the previous one is answered.
func (g *generator) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for range g.o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				now := g.now()
				if g.over(now) {
					return
				}
				if on, wait := g.o.Workload.Active(now); !on {
					if !sleep(ctx, wait) {
						return
					}
					continue
				}
				it, ok := g.take()
				if !ok {
					return
				}
				g.record(g.do(ctx, it, now))
			}
		})
	}
	wg.Wait()
}

// openLoop sends on a Poisson schedule, whatever the answers do: a request
// is timed from when it was due, so a slow system cannot slow the load down
// and hide its own latency. At most MaxOutstanding requests are in flight;
// one due beyond that is dropped and counted as an error.
func (g *generator) openLoop(ctx context.Context) {
	arr := newArrivals(rand.New(rand.NewPCG(g.o.Seed, 2)), g.o.Rate, g.o.Workload.Burst)
	sem := make(chan struct{}, g.o.MaxOutstanding)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		due := arr.next()
		if g.over(due) {
			return
		}
		it, ok := g.take()
		if !ok {
			return
		}
		if wait := due - g.now(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case sem <- struct{}{}:
			wg.Go(func() {
				defer func() { <-sem }()
				g.record(g.do(ctx, it, due))
			})
		default:
			g.record(Sample{Item: it, Due: due, End: g.now(), Err: errDropped})
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// do sends one request and classifies its outcome.
func (g *generator) do(ctx context.Context, it Item, due time.Duration) Sample {
	s := Sample{Item: it, Due: due}
	s.Err = g.fetch(ctx, it, &s)
	s.End = g.now()
	return s
}

func (g *generator) fetch(ctx context.Context, it Item, s *Sample) string {
	rctx, cancel := context.WithTimeout(ctx, g.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, g.o.BaseURL+it.Path(), nil)
	if err != nil {
		return errConn
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return classify(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return strconv.Itoa(resp.StatusCode)
	}
	var a master.TaskAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Task != it.Task || a.N != it.N || a.Slave == "" ||
		(!it.builtin() && (a.InputBytes == nil || *a.InputBytes != len(it.Input))) {
		return errBadAnswer
	}
	s.Slave, s.SlaveMS = a.Slave, a.ComputeMS
	if want, ok := g.o.Answers[it.answerKey()]; ok && a.Result != want {
		return errWrongAnswer
	}
	return ""
}

func classify(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return errCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	default:
		return errConn
	}
}

// validate checks the load options that do not depend on the target.
func (o LoadOptions) validate() error {
	switch {
	case o.Workload == nil:
		return fmt.Errorf("no workload")
	case o.Concurrency < 0:
		return fmt.Errorf("-c must not be negative")
	case o.Concurrency == 0 && !(o.Rate > 0):
		return fmt.Errorf("give -c N (closed loop) or -rate R (open loop)")
	case o.Concurrency > 0 && o.Rate > 0:
		return fmt.Errorf("-c and -rate exclude each other: -c is the closed loop, -rate the open loop")
	case o.Concurrency == 0 && o.MaxOutstanding < 1:
		return fmt.Errorf("-max-outstanding must be at least 1")
	case o.Duration <= 0 && o.Requests <= 0:
		return fmt.Errorf("give a -duration or a -n (or both)")
	case o.Duration < 0 || o.Requests < 0:
		return fmt.Errorf("-duration and -n must not be negative")
	case o.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	}
	return nil
}
