package master

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// The task catalogue: every task the master knows, each numbered with a
// stable index (balance.Choice.Task, the bit in Figures.Offers, the slot of
// Figures.Latency), the slaves that offer it now, and the limits the master
// enforces for it. A built-in task's index is its wire code; a slave's own
// task gets the next free index from firstUserIndex on, for the master's
// whole run, so a name that comes back keeps its number.

const (
	firstUserIndex = 64
	// maxUserTasks bounds the names slaves can make the master remember
	// (and label metrics with): offers of new names beyond it are refused.
	maxUserTasks = 256 - firstUserIndex
	// slaveTimeoutGrace is added to an offered time limit for the master's
	// own deadline, so that the slave's kill and its failure message
	// normally arrive first.
	slaveTimeoutGrace = time.Second
)

// defaultOffer is what a slave that sent no TaskOffer offers, and
// defaultOffers its set.
var (
	defaultOffer  = []packets.OfferedTask{{Name: "fibonacci", Builtin: true}, {Name: "primes", Builtin: true}}
	defaultOffers = func() balance.TaskSet {
		var set balance.TaskSet
		for _, o := range defaultOffer {
			t, _ := tasks.ByName(o.Name)
			set.Add(t.Code)
		}
		return set
	}()
)

// taskLimits are the rules of a task the slaves offer. Where the offering
// slaves disagree the master keeps the most restrictive: the smallest
// input cap and time limit, the largest load estimate, so that a request
// it accepts is one every offering slave accepts.
type taskLimits struct {
	MaxInput int           // bytes
	PerTask  uint64        // load of a task, whatever its input
	PerByte  uint64        // load per input byte
	Timeout  time.Duration // the slaves' time limit; 0: the master's -task-timeout
}

// load is the load a task with n input bytes reserves: at least 1, so that
// every task counts against a slave's max load.
func (l taskLimits) load(n int) uint64 {
	hi, lo := bits.Mul64(l.PerByte, uint64(n))
	if hi != 0 {
		return math.MaxUint64
	}
	return max(l.PerTask, lo, 1)
}

func limitsOf(o packets.OfferedTask) taskLimits {
	l := taskLimits{MaxInput: packets.MaxTaskData, Timeout: time.Duration(o.TimeoutMillis) * time.Millisecond}
	if o.MaxInput != 0 {
		l.MaxInput = int(o.MaxInput)
	}
	if o.PerByte {
		l.PerByte = o.Load
	} else {
		l.PerTask = o.Load
	}
	return l
}

// stricter is the most restrictive of l and o.
func (l taskLimits) stricter(o taskLimits) taskLimits {
	l.MaxInput = min(l.MaxInput, o.MaxInput)
	l.PerTask, l.PerByte = max(l.PerTask, o.PerTask), max(l.PerByte, o.PerByte)
	if l.Timeout == 0 || (o.Timeout != 0 && o.Timeout < l.Timeout) {
		l.Timeout = o.Timeout
	}
	return l
}

// catalogTask is one task the catalogue knows.
type catalogTask struct {
	name    string
	index   uint8
	builtin *tasks.Task // nil for a slave's own task
	listed  bool        // offered at least once (the defaults from the start)
	offers  map[*session]taskLimits
	limits  taskLimits // over offers; the last ones seen while none offers it
}

// taskView is a copy of a catalogue entry, for one request or one listing.
type taskView struct {
	Name    string
	Index   uint8
	Builtin *tasks.Task
	Limits  taskLimits
	Slaves  int // slaves in the pool that offer it now
}

// catalog is owned by the master; its lock is never held with the pool's
// (a session updates one, then the other).
type catalog struct {
	mu      sync.RWMutex // read by every task request
	byName  map[string]*catalogTask
	byIndex [256]*catalogTask
	bySlave map[*session][]*catalogTask
	next    int // the index the next new name gets
}

func newCatalog() *catalog {
	c := &catalog{byName: map[string]*catalogTask{}, bySlave: map[*session][]*catalogTask{}, next: firstUserIndex}
	for _, t := range tasks.All() {
		c.addLocked(&catalogTask{name: t.Name, index: t.Code, builtin: &t})
	}
	for _, o := range defaultOffer {
		c.byName[o.Name].listed = true
	}
	return c
}

func (c *catalog) addLocked(t *catalogTask) {
	t.offers = map[*session]taskLimits{}
	c.byName[t.name], c.byIndex[t.index] = t, t
}

// offer replaces what s offers with offered and returns the set for its
// Figures.Offers, and why each refused entry was refused. A session that
// was withdrawn offers nothing any more: a late offer is ignored.
func (c *catalog) offer(s *session, offered []packets.OfferedTask) (balance.TaskSet, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var set balance.TaskSet
	if s.offersWithdrawn {
		return set, nil
	}
	c.dropLocked(s)
	var refused []string
	var took []*catalogTask
	for _, o := range offered {
		t, why := c.entryLocked(o)
		switch {
		case why == "" && set.Has(t.index):
			why = "offered twice"
		case why == "" && t.builtin == nil:
			t.offers[s] = limitsOf(o)
		case why == "":
			t.offers[s] = taskLimits{}
		}
		if why != "" {
			refused = append(refused, fmt.Sprintf("%q: %s", o.Name, why))
			continue
		}
		set.Add(t.index)
		t.listed = true
		t.limits = foldLimits(t.offers, t.limits)
		took = append(took, t)
	}
	c.bySlave[s] = took
	return set, refused
}

// entryLocked finds or makes the entry for an offered task, or says why the
// offer is refused.
func (c *catalog) entryLocked(o packets.OfferedTask) (*catalogTask, string) {
	if !packets.ValidTaskName(o.Name) {
		return nil, "not a valid task name" // the decoder refuses it already
	}
	t, known := c.byName[o.Name]
	switch {
	case o.Builtin && (!known || t.builtin == nil):
		return nil, "no such built-in task on this master"
	case o.Builtin:
		return t, ""
	case known && t.builtin != nil:
		return nil, "the name of a built-in task"
	case known:
		return t, ""
	case tasks.Reserved(o.Name):
		return nil, "a path of the master"
	case c.next > math.MaxUint8:
		return nil, fmt.Sprintf("the master knows %d tasks of slaves already, its most", maxUserTasks)
	}
	t = &catalogTask{name: o.Name, index: uint8(c.next)}
	c.next++
	c.addLocked(t)
	return t, ""
}

// foldLimits is the most restrictive of the offers' limits, or last when
// there is none.
func foldLimits(offers map[*session]taskLimits, last taskLimits) taskLimits {
	first := true
	var l taskLimits
	for _, o := range offers {
		if first {
			l, first = o, false
			continue
		}
		l = l.stricter(o)
	}
	if first {
		return last
	}
	return l
}

// withdraw drops everything s offers, for good: the slave drains or is lost.
func (c *catalog) withdraw(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.offersWithdrawn = true
	c.dropLocked(s)
	delete(c.bySlave, s)
}

func (c *catalog) dropLocked(s *session) {
	for _, t := range c.bySlave[s] {
		delete(t.offers, s)
		t.limits = foldLimits(t.offers, t.limits)
	}
}

// lookup returns the listed task called name.
func (c *catalog) lookup(name string) (taskView, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byName[name]
	if !ok || !t.listed {
		return taskView{}, false
	}
	return t.viewLocked(), true
}

func (t *catalogTask) viewLocked() taskView {
	return taskView{Name: t.name, Index: t.index, Builtin: t.builtin, Limits: t.limits, Slaves: len(t.offers)}
}

// listed returns every listed task, by index: the built-ins first, then the
// slaves' own in the order they were first offered.
func (c *catalog) listed() []taskView {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []taskView
	for _, t := range c.byIndex {
		if t != nil && t.listed {
			out = append(out, t.viewLocked())
		}
	}
	return out
}

// names lists the listed tasks' names, for error messages.
func (c *catalog) names() string {
	var names []string
	for _, t := range c.listed() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// tasksOf lists the names of the tasks s offers, by index.
func (c *catalog) tasksOf(s *session) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var set balance.TaskSet
	for _, t := range c.bySlave[s] {
		set.Add(t.index)
	}
	names := []string{}
	for i, t := range c.byIndex {
		if t != nil && set.Has(uint8(i)) {
			names = append(names, t.name)
		}
	}
	return names
}
