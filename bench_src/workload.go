package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// Item is one kind of request in a workload mix: a built-in task and its
// n, or a task a slave's operator defined (issue 16) and its input.
type Item struct {
	Task   string  `json:"task"`
	N      uint64  `json:"n"`
	Input  string  `json:"input,omitempty"`
	Weight float64 `json:"weight"`
}

// builtin reports whether the item is one of the tasks every node knows.
func (it Item) builtin() bool { _, ok := tasks.ByName(it.Task); return ok }

// Path is the request's URL path and query.
func (it Item) Path() string {
	if !it.builtin() {
		return "/" + it.Task + "?input=" + url.QueryEscape(it.Input)
	}
	return "/" + it.Task + "?n=" + strconv.FormatUint(it.N, 10)
}

func (it Item) String() string {
	if !it.builtin() {
		return it.Task + ":" + mixEscaper.Replace(it.Input)
	}
	return it.Task + ":" + strconv.FormatUint(it.N, 10)
}

// mixEscaper encodes what ParseMix cannot read as it is, so that an item's
// String is its -mix form.
var mixEscaper = strings.NewReplacer("%", "%25", ":", "%3A", ",", "%2C")

// Burst switches traffic on and off: On of traffic, then Off of silence,
// and again. Open loop keeps the average rate, so arrivals come
// (On+Off)/On times faster during On.
type Burst struct {
	On  time.Duration `json:"on"`
	Off time.Duration `json:"off"`
}

// Workload is what the lab sends: a mix of requests, and optionally bursts.
type Workload struct {
	Name  string `json:"name"`
	Mix   []Item `json:"mix"`
	Burst *Burst `json:"burst,omitempty"`
	// Service, when set, makes every request an emulated work task whose
	// service time is drawn from it (NewEmulated).
	Service *Service `json:"-"`
	// ServiceText is Service as written on the command line.
	ServiceText string `json:"service,omitempty"`

	cum []float64 // cumulative weights, for Pick
}

// emulatedMaxN caps an emulated request's drawn service time, µs.
var emulatedMaxN = func() uint64 { t, _ := tasks.ByName("work"); return t.MaxN }()

// The built-in mixes.
var (
	uniformMix = []Item{{Task: "fibonacci", N: 30, Weight: 1}}
	mixedMix   = []Item{{Task: "fibonacci", N: 30, Weight: 95}, {Task: "primes", N: 20000, Weight: 5}}
)

// WorkloadNames lists the built-in workloads.
func WorkloadNames() []string { return []string{"uniform", "mixed", "bursty"} }

// NewWorkload returns the named built-in workload: uniform (fibonacci n=30),
// mixed (95% fibonacci n=30, 5% primes n=20000: heavy-tailed), or bursty
// (the mixed requests, sent in bursts of burst.On separated by burst.Off).
// A non-empty mix replaces the built-in requests (see ParseMix).
func NewWorkload(name string, mix []Item, burst Burst) (*Workload, error) {
	w := &Workload{Name: name}
	switch name {
	case "uniform":
		w.Mix = uniformMix
	case "mixed":
		w.Mix = mixedMix
	case "bursty":
		if burst.On <= 0 || burst.Off < 0 {
			return nil, fmt.Errorf("bursty needs a positive burst and a pause ≥ 0, got %s/%s", burst.On, burst.Off)
		}
		w.Mix = mixedMix
		w.Burst = &burst
	default:
		return nil, fmt.Errorf("unknown workload %q: valid ones are %s", name, strings.Join(WorkloadNames(), ", "))
	}
	if len(mix) > 0 {
		w.Mix = mix
	}
	w.Mix = append([]Item(nil), w.Mix...)
	if err := w.init(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Workload) init() error {
	total := 0.0
	w.cum = w.cum[:0]
	for _, it := range w.Mix {
		t, ok := tasks.ByName(it.Task)
		switch {
		case !ok && !packets.ValidTaskName(it.Task):
			return fmt.Errorf("task %q in the mix: a name is [a-z][a-z0-9_-]*, at most 64 bytes", it.Task)
		case !ok:
			// A slave's own task: whether a slave offers it, and its input
			// cap, only the master knows; it answers 404 or 413 otherwise.
		case it.N > t.MaxN:
			return fmt.Errorf("%s n=%d is beyond the master's limit %d", it.Task, it.N, t.MaxN)
		case !(it.Weight > 0):
			return fmt.Errorf("%s: weight must be positive, got %g", it, it.Weight)
		}
		total += it.Weight
		w.cum = append(w.cum, total)
	}
	if total == 0 {
		return fmt.Errorf("empty mix")
	}
	for i := range w.cum {
		w.cum[i] /= total
	}
	return nil
}

// NewEmulated returns the workload of emulated requests: /work with a
// service time drawn from svc, capped at the task's limit.
func NewEmulated(svc Service) (*Workload, error) {
	work, _ := tasks.ByName("work")
	if svc.Mean > time.Duration(work.MaxN)*time.Microsecond/10 {
		return nil, fmt.Errorf("-emulate %s: the mean must be at most a tenth of work's limit, %s", svc, time.Duration(work.MaxN)*time.Microsecond)
	}
	w := &Workload{Name: "emulate", Mix: []Item{{Task: work.Name, N: uint64(svc.Mean.Microseconds()), Weight: 1}},
		Service: &svc, ServiceText: svc.String()}
	return w, w.init()
}

// Pick draws one request from the mix, or an emulated request's service
// time.
func (w *Workload) Pick(rng *rand.Rand) Item {
	if w.Service != nil {
		it := w.Mix[0]
		it.N = min(uint64(math.Round(w.Service.Draw(rng)*1e6)), emulatedMaxN)
		return it
	}
	u := rng.Float64() // in [0, 1), and the last cumulative weight is 1
	i := sort.Search(len(w.cum), func(i int) bool { return w.cum[i] > u })
	return w.Mix[min(i, len(w.Mix)-1)]
}

// Active reports whether traffic flows at offset t of the run, and if not,
// how long until it does.
func (w *Workload) Active(t time.Duration) (bool, time.Duration) {
	if w.Burst == nil || w.Burst.Off == 0 {
		return true, 0
	}
	period := w.Burst.On + w.Burst.Off
	phase := t % period
	if phase < w.Burst.On {
		return true, 0
	}
	return false, period - phase
}

// ParseMix reads a custom mix, "task:n:weight,..." (weight optional,
// default 1), e.g. "fibonacci:30:95,primes:20000:5". For a task that is
// not built in (a slave's own, issue 16) the second field is its input,
// percent-encoded where it holds ':', ',' or '%': "sha:hello%2C%20world:3".
func ParseMix(s string) ([]Item, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var mix []Item
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), ":")
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("mix item %q: want task:n or task:n:weight", part)
		}
		it := Item{Task: f[0], Weight: 1}
		var err error
		if it.builtin() {
			if it.N, err = strconv.ParseUint(f[1], 10, 64); err != nil {
				return nil, fmt.Errorf("mix item %q: n must be a whole number", part)
			}
		} else if it.Input, err = url.PathUnescape(f[1]); err != nil {
			return nil, fmt.Errorf("mix item %q: the input is not valid percent-encoding: %w", part, err)
		}
		if len(f) == 3 {
			if it.Weight, err = strconv.ParseFloat(f[2], 64); err != nil || !(it.Weight > 0) {
				return nil, fmt.Errorf("mix item %q: weight must be a positive number", part)
			}
		}
		mix = append(mix, it)
	}
	return mix, nil
}

// answerKey is the item without its weight, the key of Answers.
func (it Item) answerKey() Item { it.Weight = 0; return it }

// Answers computes the right answer of every request in the mix, so the
// lab can check each 200 it gets ("never a 200 with a wrong body").
func (w *Workload) Answers(ctx context.Context) (map[Item]string, error) {
	answers := map[Item]string{}
	for _, it := range w.Mix {
		t, ok := tasks.ByName(it.Task)
		if !ok || t.Emulated {
			continue // a slave's own task, or emulated work: nothing to compute here
		}
		key := it.answerKey()
		if _, done := answers[key]; done {
			continue
		}
		v, err := t.Run(ctx, it.N)
		if err != nil {
			return nil, fmt.Errorf("computing %s for the answer check: %w", it, err)
		}
		answers[key] = v
	}
	return answers, nil
}
