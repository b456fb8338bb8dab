package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMaster answers task requests like the master, from two slaves in
// turn, after delay; it tracks the most requests it held at once.
type fakeMaster struct {
	delay    time.Duration
	answer   func(task string, n uint64) (status int, body string) // nil: the right answer
	inFlight atomic.Int64
	peak     atomic.Int64
	served   atomic.Int64
}

func (f *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		p := f.peak.Load()
		if cur <= p || f.peak.CompareAndSwap(p, cur) {
			break
		}
	}
	seq := f.served.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	task := r.URL.Path[1:]
	n, _ := strconv.ParseUint(r.URL.Query().Get("n"), 10, 64)
	if f.answer != nil {
		status, body := f.answer(task, n)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return
	}
	results := map[string]string{"fibonacci": "832040", "primes": "2262"}
	_ = json.NewEncoder(w).Encode(map[string]any{"task": task, "n": n, "result": results[task],
		"task_id": seq, "slave": "127.0.0.1:" + strconv.Itoa(1000+int(seq%2)), "compute_ms": 1.5})
}

func startFake(t *testing.T, f http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func loadOptions(t *testing.T, url string) LoadOptions {
	t.Helper()
	w, err := NewWorkload("mixed", nil, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	return LoadOptions{BaseURL: url, Workload: w, Pace: Pace{MaxOutstanding: 64, Seed: 1, Timeout: 5 * time.Second},
		Answers: map[Item]string{{Task: "fibonacci", N: 30}: "832040", {Task: "primes", N: 20000}: "2262"}}
}

func countErrors(samples []Sample) map[string]int {
	errs := map[string]int{}
	for _, s := range samples {
		if s.Err != "" {
			errs[s.Err]++
		}
	}
	return errs
}

func TestClosedLoopCountAndConcurrency(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{delay: 2 * time.Millisecond}
	o := loadOptions(t, startFake(t, f))
	o.Concurrency, o.Requests = 4, 60
	var cnt Counters
	res, err := Generate(context.Background(), NewClient(8, false), o, &cnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 60 || cnt.Done.Load() != 60 || cnt.Failed.Load() != 0 {
		t.Fatalf("%d samples, counters %d/%d; want 60, none failed", len(res.Samples), cnt.Done.Load(), cnt.Failed.Load())
	}
	if errs := countErrors(res.Samples); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if p := f.peak.Load(); p > 4 {
		t.Fatalf("the closed loop held %d requests at once, want at most 4", p)
	}
	for _, s := range res.Samples {
		if s.Slave == "" || s.SlaveMS != 1.5 || s.Latency() <= 0 {
			t.Fatalf("sample %+v lacks the answer's slave, duration or latency", s)
		}
	}
}

func TestClosedLoopDuration(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{delay: time.Millisecond}
	o := loadOptions(t, startFake(t, f))
	o.Concurrency, o.Duration = 2, 300*time.Millisecond
	start := time.Now()
	res, err := Generate(context.Background(), NewClient(4, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
		t.Fatalf("a 300 ms run took %s", took)
	}
	if len(res.Samples) < 10 || res.Elapsed < 300*time.Millisecond {
		t.Fatalf("%d samples in %s", len(res.Samples), res.Elapsed)
	}
	for _, s := range res.Samples {
		if s.Due >= 300*time.Millisecond {
			t.Fatalf("a request was sent at %s, after the end", s.Due)
		}
	}
}

// TestOpenLoopNoCoordinatedOmission serves one request at a time, slower
// than they arrive: the open loop keeps sending on schedule and each
// request's latency includes the time it waited, so late requests show
// latencies far above the 20 ms of service.
func TestOpenLoopNoCoordinatedOmission(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	f := &fakeMaster{}
	url := startFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock() // one at a time
		defer mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		f.ServeHTTP(w, r)
	}))
	o := loadOptions(t, url)
	o.Rate, o.Requests = 100, 30 // 30 due over about 0.3 s, served in 0.6 s
	res, err := Generate(context.Background(), NewClient(64, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 30 || len(countErrors(res.Samples)) != 0 {
		t.Fatalf("%d samples, errors %v", len(res.Samples), countErrors(res.Samples))
	}
	var lat []float64
	for i, s := range res.Samples {
		lat = append(lat, ms(s.Latency()))
		if i > 0 && s.Due < 0 {
			t.Fatal("negative due time")
		}
	}
	sort.Float64s(lat)
	if m := Summary(lat).Max; m < 150 {
		t.Fatalf("max latency %.0f ms: the queueing behind slow answers was not counted", m)
	}
}

func TestOpenLoopDropsBeyondMaxOutstanding(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{delay: 50 * time.Millisecond}
	o := loadOptions(t, startFake(t, f))
	o.Rate, o.Duration, o.MaxOutstanding = 200, 500*time.Millisecond, 2
	res, err := Generate(context.Background(), NewClient(4, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := countErrors(res.Samples)
	ok := len(res.Samples) - errs[errDropped]
	if errs[errDropped] == 0 || ok == 0 || len(errs) != 1 {
		t.Fatalf("%d samples, errors %v: want some answered and the rest dropped", len(res.Samples), errs)
	}
	if p := f.peak.Load(); p > 2 {
		t.Fatalf("%d requests outstanding at once, want at most 2", p)
	}
	// About 100 due in 0.5 s; 2 slots of 50 ms serve about 20.
	if n := len(res.Samples); n < 60 || n > 140 || ok > 30 {
		t.Fatalf("%d due, %d answered", n, ok)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{answer: func(task string, n uint64) (int, string) {
		switch {
		case task == "primes":
			return http.StatusServiceUnavailable, `{"error":"no slave"}`
		case n == 30:
			return http.StatusOK, `{"task":"fibonacci","n":30,"result":"1","slave":"127.0.0.1:1","compute_ms":1}`
		default:
			return http.StatusOK, `not json`
		}
	}}
	o := loadOptions(t, startFake(t, f))
	mix, _ := ParseMix("primes:10,fibonacci:30,fibonacci:31")
	w, err := NewWorkload("uniform", mix, Burst{})
	if err != nil {
		t.Fatal(err)
	}
	o.Workload, o.Concurrency, o.Requests = w, 2, 90
	res, err := Generate(context.Background(), NewClient(4, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := countErrors(res.Samples)
	if errs["503"] == 0 || errs[errWrongAnswer] == 0 || errs[errBadAnswer] == 0 || len(errs) != 3 ||
		errs["503"]+errs[errWrongAnswer]+errs[errBadAnswer] != 90 {
		t.Fatalf("errors %v", errs)
	}
}

func TestTimeoutAndConnErrors(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{delay: 300 * time.Millisecond}
	o := loadOptions(t, startFake(t, f))
	o.Concurrency, o.Requests, o.Timeout = 1, 2, 50*time.Millisecond
	res, err := Generate(context.Background(), NewClient(2, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if errs := countErrors(res.Samples); errs[errTimeout] != 2 {
		t.Fatalf("errors %v, want 2 timeouts", errs)
	}
	srv := httptest.NewServer(f)
	url := srv.URL
	srv.Close() // nobody listens there now
	o = loadOptions(t, url)
	o.Concurrency, o.Requests = 1, 1
	res, err = Generate(context.Background(), NewClient(2, false), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if errs := countErrors(res.Samples); errs[errConn] != 1 {
		t.Fatalf("errors %v, want 1 conn", errs)
	}
}

func TestGenerateStopsOnCancel(t *testing.T) {
	t.Parallel()
	f := &fakeMaster{delay: 5 * time.Millisecond}
	o := loadOptions(t, startFake(t, f))
	o.Rate, o.Duration = 100, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Generate(ctx, NewClient(4, false), o, nil)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Generate returned %v after %s, want the context's error soon", err, time.Since(start))
	}
}

func TestLoadOptionsValidate(t *testing.T) {
	t.Parallel()
	w, _ := NewWorkload("uniform", nil, Burst{})
	base := LoadOptions{Workload: w, Pace: Pace{Concurrency: 1, Duration: time.Second, Timeout: time.Second, MaxOutstanding: 1}}
	if err := base.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*LoadOptions){
		"no loop":          func(o *LoadOptions) { o.Concurrency = 0 },
		"both loops":       func(o *LoadOptions) { o.Rate = 5 },
		"no bound":         func(o *LoadOptions) { o.Duration = 0 },
		"no timeout":       func(o *LoadOptions) { o.Timeout = 0 },
		"no outstanding":   func(o *LoadOptions) { o.Concurrency, o.Rate, o.MaxOutstanding = 0, 5, 0 },
		"negative count":   func(o *LoadOptions) { o.Requests = -1 },
		"negative c":       func(o *LoadOptions) { o.Concurrency = -1 },
		"missing workload": func(o *LoadOptions) { o.Workload = nil },
	} {
		o := base
		mod(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
